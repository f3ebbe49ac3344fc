using Switchboard.Sharding;
using Switchboard.Tests.Rig;
using Switchboard.Tests.Sharding;

namespace Switchboard.Tests.PostgreSql;

/// <summary>One shard map over two PostgreSQL databases and two SQLite files: the merge does not care what a shard is.</summary>
[Collection(ServersCollection.Name)]
public sealed class MixedFanOutTests(DatabaseServers servers, FanOutFixtureHolder holder) : FanOutContractTests, IClassFixture<FanOutFixtureHolder>
{
    // Each kind of shard gets the same statement: a recursive count that takes far longer than the test waits.
    protected override string LongRunningSql =>
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT COUNT(*) FROM c";

    protected override Task<FanOutFixture> FixtureAsync() => holder.GetAsync(() => CreateAsync(servers));

    private static async Task<(FanOutFixture, Func<Task>)> CreateAsync(DatabaseServers servers)
    {
        var folder = Directory.CreateTempSubdirectory("switchboard-mixed-").FullName;
        var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase(Whole, servers.PgUrl(await servers.CreatePgDatabaseAsync("mixed_whole")))
            .AddDatabase("pg_a", servers.PgUrl(await servers.CreatePgDatabaseAsync("mixed_a")))
            .AddDatabase("lite_b", $"sqlite:///{folder}/b.db")
            .AddDatabase("pg_c", servers.PgUrl(await servers.CreatePgDatabaseAsync("mixed_c")))
            .AddDatabase("lite_d", $"sqlite:///{folder}/d.db")
            .AddDatabase("missing", $"sqlite:///{folder}/no/such/folder/x.db?mode=rw")
            .AddShardMap("events", ShardStrategy.Hash, ["pg_a", "lite_b", "pg_c", "lite_d"])
            .AddShardMap("broken", ShardStrategy.Hash, ["pg_a", "lite_b", "pg_c", "lite_d", "missing"])
            .Build();
        var events = EventData.Generate(2000, seed: 11);
        await EventData.LoadAsync(catalog, catalog.Shards("events"), Whole, events);
        var fixture = new FanOutFixture(catalog, events, [servers.PgPassword]);
        return (fixture, () => fixture.DeleteAsync(servers, folder));
    }
}
