using BenchmarkDotNet.Attributes;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using Switchboard.Sharding;

namespace Switchboard.Benchmarks;

/// <summary>
/// Fan-out latency against the number of shards. The baseline is the same query on one shard through the same path
/// (a read-only session and Dapper), so the ratio column is what fanning out costs. Each shard holds the same 2,000 rows
/// and answers <c>ORDER BY at DESC LIMIT 50</c> from an index. "Merged" is the ordered k-way merge of those answers,
/// stopped at 50 rows; "unordered" streams every shard's 50 rows as they arrive.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public abstract class ShardingBenchmarks
{
    protected const int MaxShards = 16;
    private const string TopSql = "SELECT id AS Id, tenant AS Tenant, at AS At, amount AS Amount FROM events ORDER BY at DESC, id DESC LIMIT 50";

    private SwitchboardCatalog _catalog = null!;
    private ShardMap _map = null!;

    [Params(1, 2, 4, 8, 16)]
    public int Shards { get; set; }

    /// <summary>The statement every shard runs.</summary>
    protected virtual string Sql => TopSql;

    /// <summary>Adds shard database number <paramref name="index"/> to the builder (creating and filling it if needed).</summary>
    protected abstract void AddShard(SwitchboardCatalogBuilder builder, string name, int index);

    [GlobalSetup]
    public void Setup()
    {
        var builder = SwitchboardCatalog.CreateBuilder();
        var names = Enumerable.Range(0, Shards).Select(i => $"shard_{i}").ToList();
        for (var i = 0; i < Shards; i++)
        {
            AddShard(builder, names[i], i);
        }

        _catalog = builder.AddShardMap("events", ShardStrategy.Hash, names).Build();
        _map = _catalog.Shards("events");
        foreach (var shard in _map.Shards)
        {
            using var session = shard.OpenSession();
            session.Execute("CREATE TABLE IF NOT EXISTS events (id BIGINT PRIMARY KEY, tenant VARCHAR(20) NOT NULL, at BIGINT NOT NULL, amount INTEGER NOT NULL)");
            session.Execute("CREATE INDEX IF NOT EXISTS events_at ON events (at, id)");
            if (session.ExecuteScalar<long>("SELECT COUNT(*) FROM events") == 0)
            {
                var random = new Random(shard.Index);
                session.Connection.Execute("INSERT INTO events (id, tenant, at, amount) VALUES (@Id, @Tenant, @At, @Amount)",
                    Enumerable.Range(0, 2000).Select(i => new Row { Id = (shard.Index * 1_000_000L) + i, Tenant = "t" + random.Next(100), At = random.Next(), Amount = random.Next(1000) }),
                    session.Transaction);
            }

            session.Commit();
        }

        // Warm every pool so that no iteration pays for a first connection.
        SingleShard().GetAwaiter().GetResult();
        FanOutMerged().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => _catalog.Dispose();

    [Benchmark(Baseline = true, Description = "One shard (session + Dapper)")]
    public async Task<int> SingleShard()
    {
        await using var session = _map.Shards[0].OpenSession(SessionIntent.ReadOnly);
        return (await session.QueryAsync<Row>(Sql)).Count;
    }

    [Benchmark(Description = "Fan-out, unordered")]
    public async Task<int> FanOutUnordered()
    {
        var count = 0;
        await foreach (var row in _map.Query<Row>(Sql))
        {
            count++;
        }

        return count;
    }

    [Benchmark(Description = "Fan-out, merged + Take(50)")]
    public async Task<int> FanOutMerged()
    {
        var count = 0;
        await foreach (var row in _map.Query<Row>(Sql).OrderByDescending(r => r.At).ThenByDescending(r => r.Id).Take(50))
        {
            count++;
        }

        return count;
    }

    public sealed class Row
    {
        public long Id { get; set; }

        public string Tenant { get; set; } = "";

        public long At { get; set; }

        public int Amount { get; set; }
    }
}

/// <summary>Shards are databases <c>sb_bench_shard_N</c> on the benchmark PostgreSQL server (created on first run).</summary>
public class PostgreSqlShardingBenchmarks : ShardingBenchmarks
{
    protected override void AddShard(SwitchboardCatalogBuilder builder, string name, int index)
    {
        var database = $"sb_bench_shard_{index}";
        var connectionString = new NpgsqlConnectionStringBuilder(BenchmarkServers.PostgreSql) { Database = database }.ConnectionString;
        using (var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(BenchmarkServers.PostgreSql) { Pooling = false }.ConnectionString))
        {
            admin.Open();
            if (admin.ExecuteScalar("SELECT 1 FROM pg_database WHERE datname = @database", new { database }) is null)
            {
                admin.Execute($"CREATE DATABASE \"{database}\"");
            }
        }

        builder.AddDatabase(name, "postgresql", connectionString, o => o.Pool.MaxSize = 4);
    }
}

/// <summary>
/// The same fan-out when each shard takes 5 ms to answer (<c>pg_sleep(0.005)</c>), as a shard on another machine or
/// one reading from disk would: the ratio is then the coordination overhead, not this machine's two cores being shared
/// by N local server processes.
/// </summary>
public class PostgreSqlSlowShardBenchmarks : PostgreSqlShardingBenchmarks
{
    protected override string Sql =>
        "SELECT id AS Id, tenant AS Tenant, at AS At, amount AS Amount FROM events, pg_sleep(0.005) ORDER BY at DESC, id DESC LIMIT 50";
}

/// <summary>SQLite shards: files in the temp folder, queried in-process (no network; every shard competes for the same cores).</summary>
public class SqliteShardingBenchmarks : ShardingBenchmarks
{
    protected override void AddShard(SwitchboardCatalogBuilder builder, string name, int index) =>
        builder.AddDatabase(name, "sqlite", new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(Path.GetTempPath(), "switchboard-bench-shards", $"shard_{index}.db"),
        }.ConnectionString);
}
