// Three databases in one minimal API. With no server: `dotnet run --project samples/Switchboard.Sample.WebApi`
// (every database is a SQLite file under data/). Against PostgreSQL and MariaDB: add `--environment Servers`
// (appsettings.Servers.json; set ORDERS_PASSWORD and LEGACY_PASSWORD).
var app = Switchboard.Sample.WebApi.SampleApp.Create(args);
await app.RunAsync();
