using Switchboard.AspNetCore.Tests.Contracts;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.PostgreSql;

/// <summary>The sample as configured for servers: "orders" on PostgreSQL, "legacy" on MariaDB, "audit" on SQLite.</summary>
[Collection(ServersCollection.Name)]
public sealed class SampleOnServersTests(DatabaseServers servers) : SampleContractTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "switchboard-sample-" + Guid.NewGuid().ToString("N")[..8]);

    protected override async Task<(string Orders, string Legacy, string Audit)> DatabasesAsync() =>
        (servers.PgUrl(await servers.CreatePgDatabaseAsync("orders")), servers.MyUrl(await servers.CreateMyDatabaseAsync("legacy")),
            $"sqlite:///{_folder}/audit.db");

    protected override (string Orders, string Legacy, string Audit) Dialects => ("postgresql", "mysql", "sqlite");

    protected override IReadOnlyList<string> Secrets => [servers.PgPassword, servers.MyPassword];
}
