using MySql.Data.MySqlClient;
using Npgsql;
using Switchboard.AspNetCore.Tests.Contracts;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.PostgreSql;

/// <summary>The sample as configured for servers: "orders" on PostgreSQL, "legacy" on MariaDB, "audit" on SQLite.</summary>
[Collection(ServersCollection.Name)]
public sealed class SampleOnServersTests(DatabaseServers servers) : SampleContractTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "switchboard-sample-" + Guid.NewGuid().ToString("N")[..8]);

    private string _orders = "";

    protected override async Task<(string Orders, string Legacy, string Audit)> DatabasesAsync()
    {
        _orders = await servers.CreatePgDatabaseAsync("orders");
        return (servers.PgUrl(_orders), servers.MyUrl(await servers.CreateMyDatabaseAsync("legacy")), $"sqlite:///{_folder}/audit.db");
    }

    protected override string ExpectedProtocol => "two-phase-commit";

    /// <summary>pg_prepared_xacts of the orders database, and every XA RECOVER row of the MariaDB server.</summary>
    protected override async Task<IReadOnlyList<string>> PreparedAsync()
    {
        var rows = new List<string>();
        await using (var pg = new NpgsqlConnection(servers.PgAdminConnectionString()))
        {
            await pg.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT gid FROM pg_prepared_xacts WHERE database = @db ORDER BY gid", pg);
            command.Parameters.AddWithValue("db", _orders);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows.Add("pg:" + reader.GetString(0));
            }
        }

        await using (var my = new MySqlConnection(servers.MyAdminConnectionString()))
        {
            await my.OpenAsync();
            await using var command = new MySqlCommand("XA RECOVER", my);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var data = reader["data"];
                rows.Add("xa:" + (data is byte[] bytes ? System.Text.Encoding.UTF8.GetString(bytes) : Convert.ToString(data, System.Globalization.CultureInfo.InvariantCulture)));
            }
        }

        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    protected override (string Orders, string Legacy, string Audit) Dialects => ("postgresql", "mysql", "sqlite");

    protected override IReadOnlyList<string> Secrets => [servers.PgPassword, servers.MyPassword];
}
