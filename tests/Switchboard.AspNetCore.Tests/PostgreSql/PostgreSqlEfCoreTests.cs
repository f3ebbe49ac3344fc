using Microsoft.EntityFrameworkCore;
using Switchboard.AspNetCore.Tests.Contracts;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.PostgreSql;

[Collection(ServersCollection.Name)]
public sealed class PostgreSqlEfCoreTests(DatabaseServers servers) : EfCoreContractTests
{
    private readonly string _applicationName = "sb-ef-" + Guid.NewGuid().ToString("N")[..8];

    protected override async Task<string> NewDatabaseUrlAsync() => servers.PgUrl(await servers.CreatePgDatabaseAsync("ef"));

    protected override void ConfigureDatabase(DatabaseOptions options) => options.Options["Application Name"] = _applicationName;

    [Fact]
    public async Task Contexts_use_the_database_s_own_data_source()
    {
        foreach (var intent in new[] { SessionIntent.ReadWrite, SessionIntent.ReadOnly })
        {
            await using var db = Factory.CreateDbContext(intent);
            var name = await db.Database.SqlQueryRaw<string>("SELECT current_setting('application_name') AS \"Value\"").SingleAsync();
            Assert.Equal(_applicationName, name);
        }
    }
}
