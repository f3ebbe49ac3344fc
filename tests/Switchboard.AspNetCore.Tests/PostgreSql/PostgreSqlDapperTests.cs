using Switchboard.AspNetCore.Tests.Contracts;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.PostgreSql;

[Collection(ServersCollection.Name)]
public sealed class PostgreSqlDapperTests(DatabaseServers servers) : DapperContractTests
{
    protected override async Task<string> NewDatabaseUrlAsync() => servers.PgUrl(await servers.CreatePgDatabaseAsync("dapper"));
}
