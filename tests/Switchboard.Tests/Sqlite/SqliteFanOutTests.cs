using Switchboard.Sharding;
using Switchboard.Tests.Sharding;

namespace Switchboard.Tests.Sqlite;

/// <summary>Fan-out over five SQLite files (hash map by tenant), compared with one file holding every row.</summary>
public sealed class SqliteFanOutTests(FanOutFixtureHolder holder) : FanOutContractTests, IClassFixture<FanOutFixtureHolder>
{
    protected override string LongRunningSql =>
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT COUNT(*) FROM c";

    protected override Task<FanOutFixture> FixtureAsync() => holder.GetAsync(CreateAsync);

    private static async Task<(FanOutFixture, Func<Task>)> CreateAsync()
    {
        var folder = Directory.CreateTempSubdirectory("switchboard-fanout-").FullName;
        var builder = SwitchboardCatalog.CreateBuilder().AddDatabase(Whole, $"sqlite:///{folder}/whole.db");
        var shards = Enumerable.Range(0, 5).Select(i => $"s{i}").ToList();
        foreach (var shard in shards)
        {
            builder.AddDatabase(shard, $"sqlite:///{folder}/{shard}.db");
        }

        var catalog = builder
            .AddDatabase("missing", $"sqlite:///{folder}/no/such/folder/x.db?mode=rw")
            .AddShardMap("events", ShardStrategy.Hash, shards)
            .AddShardMap("broken", ShardStrategy.Hash, [.. shards, "missing"])
            .Build();
        var events = EventData.Generate(2500, seed: 3);
        await EventData.LoadAsync(catalog, catalog.Shards("events"), Whole, events);
        var fixture = new FanOutFixture(catalog, events, []);
        return (fixture, () => fixture.DeleteAsync(null, folder));
    }
}
