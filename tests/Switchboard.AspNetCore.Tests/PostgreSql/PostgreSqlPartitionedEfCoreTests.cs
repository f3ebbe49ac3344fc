using Switchboard.AspNetCore.Tests.Contracts;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.PostgreSql;

[Collection(ServersCollection.Name)]
public sealed class PostgreSqlPartitionedEfCoreTests(DatabaseServers servers) : PartitionedEfCoreContractTests
{
    private readonly string _prefix = "eft" + Guid.NewGuid().ToString("N")[..6];

    protected override string TenantTemplate() => servers.PgUrl(_prefix + "_{tenant}");

    protected override async Task<(string First, string Second)> ShardUrlsAsync() =>
        (servers.PgUrl(await servers.CreatePgDatabaseAsync("efshard")), servers.PgUrl(await servers.CreatePgDatabaseAsync("efshard")));
}
