using Npgsql;
using Switchboard.Sharding;
using Switchboard.Tests.Rig;
using Switchboard.Tests.Sharding;

namespace Switchboard.Tests.PostgreSql;

/// <summary>Fan-out over 8 PostgreSQL databases (hash map by tenant), compared with one database holding every row.</summary>
[Collection(ServersCollection.Name)]
public sealed class PostgreSqlFanOutTests(DatabaseServers servers, FanOutFixtureHolder holder) : FanOutContractTests, IClassFixture<FanOutFixtureHolder>
{
    protected override string LongRunningSql => "SELECT 1::bigint FROM pg_sleep(60)";

    protected override Task<FanOutFixture> FixtureAsync() => holder.GetAsync(() => CreateAsync(servers));

    private static async Task<(FanOutFixture, Func<Task>)> CreateAsync(DatabaseServers servers)
    {
        var builder = SwitchboardCatalog.CreateBuilder().AddDatabase(Whole, servers.PgUrl(await servers.CreatePgDatabaseAsync("fan_whole")));
        var shards = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            shards.Add($"events_{i}");
            builder.AddDatabase(shards[^1], servers.PgUrl(await servers.CreatePgDatabaseAsync($"fan_events_{i}")));
        }

        builder.AddDatabase("missing", servers.PgUrl("fan_no_such_database"), o => o.ConnectTimeout = TimeSpan.FromSeconds(5));
        var catalog = builder
            .AddShardMap("events", ShardStrategy.Hash, shards)
            .AddShardMap("broken", ShardStrategy.Hash, [.. shards, "missing"])
            .Build();
        var events = EventData.Generate(3000);
        await EventData.LoadAsync(catalog, catalog.Shards("events"), Whole, events);
        var fixture = new FanOutFixture(catalog, events, [servers.PgPassword]);
        return (fixture, () => fixture.DeleteAsync(servers, null));
    }

    protected override async Task AfterCancellationAsync(FanOutFixture fixture)
    {
        // The server agrees: no shard is still sleeping (Npgsql sent a cancel request for each).
        var databases = fixture.Map.Shards.Select(s => fixture.Catalog.GetDefinition(s.DatabaseName).Connection.Database!).ToArray();
        await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
        await admin.OpenAsync();
        long running = -1;
        for (var attempt = 0; attempt < 50 && running != 0; attempt++)
        {
            await using var command = new NpgsqlCommand(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = ANY(@d) AND state = 'active' AND query LIKE '%pg_sleep%'", admin);
            command.Parameters.AddWithValue("d", databases);
            running = (long)(await command.ExecuteScalarAsync())!;
            if (running != 0)
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal(0, running);
    }

    [Fact]
    public async Task At_most_MaxParallelism_shards_run_at_once()
    {
        var f = await FixtureAsync();
        const string sql = "SELECT clock_timestamp() AS Started, (SELECT clock_timestamp() FROM pg_sleep(0.3)) AS Finished";
        var rows = await f.Map.Query<Interval>(sql, options: new FanOutOptions { MaxParallelism = 3 }).ToListAsync();
        Assert.Equal(8, rows.Count);
        var overlap = rows.Max(a => rows.Count(b => b.Row.Started < a.Row.Finished && a.Row.Started < b.Row.Finished
            && b.Row.Started <= a.Row.Started));
        Assert.InRange(overlap, 2, 3); // parallel, but never more than three at once

        var all = await f.Map.Query<Interval>(sql).ToListAsync();
        var span = all.Max(r => r.Row.Finished) - all.Min(r => r.Row.Started);
        Assert.True(span < TimeSpan.FromSeconds(1.2), $"8 shards in parallel took {span}"); // 8 × 0.3 s one after another would be 2.4 s
    }

    public sealed class Interval
    {
        public DateTime Started { get; set; }

        public DateTime Finished { get; set; }
    }
}
