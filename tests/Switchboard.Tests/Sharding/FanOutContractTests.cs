using System.Diagnostics;
using Npgsql;
using Switchboard.Sharding;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.Sharding;

/// <summary>The data and catalog a fan-out test class shares: the same events in a shard map and in one whole database.</summary>
public sealed class FanOutFixture(SwitchboardCatalog catalog, IReadOnlyList<EventRow> events, IReadOnlyList<string> secrets)
{
    public SwitchboardCatalog Catalog { get; } = catalog;

    public IReadOnlyList<EventRow> Events { get; } = events;

    /// <summary>Passwords that must never appear in an error.</summary>
    public IReadOnlyList<string> Secrets { get; } = secrets;

    public ShardMap Map => Catalog.Shards("events");

    /// <summary>The shards of <see cref="Map"/> plus one that cannot be reached.</summary>
    public ShardMap Broken => Catalog.Shards("broken");

    /// <summary>Closes the pools, drops the fixture's PostgreSQL databases and deletes its folder.</summary>
    public async Task DeleteAsync(DatabaseServers? servers, string? folder)
    {
        var databases = Catalog.Databases.Where(d => d.Dialect.Name == "postgresql" && d.Name != "missing")
            .Select(d => d.Connection.Database!).ToList();
        await Catalog.DisposeAsync();
        if (servers is not null && databases.Count > 0)
        {
            await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
            await admin.OpenAsync();
            foreach (var database in databases)
            {
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", admin);
                await drop.ExecuteNonQueryAsync();
            }
        }

        if (folder is not null)
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

/// <summary>
/// Holds one test class's <see cref="FanOutFixture"/>: created by the first test that asks, deleted by xunit when the
/// class's tests are done (while the servers still run).
/// </summary>
public sealed class FanOutFixtureHolder : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private FanOutFixture? _fixture;
    private Func<Task>? _delete;

    public async Task<FanOutFixture> GetAsync(Func<Task<(FanOutFixture Fixture, Func<Task> Delete)>> create)
    {
        await _gate.WaitAsync();
        try
        {
            if (_fixture is null)
            {
                (_fixture, _delete) = await create();
            }

            return _fixture;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _delete?.Invoke() ?? Task.CompletedTask;
}

/// <summary>
/// What every fan-out over real databases must do. Subclasses give the shards (8 PostgreSQL databases, SQLite files,
/// a mix); every answer is compared with the same query on one database holding all the rows.
/// </summary>
public abstract class FanOutContractTests
{
    protected const string Whole = "whole";

    protected abstract Task<FanOutFixture> FixtureAsync();

    /// <summary>A statement that runs for many seconds on one shard.</summary>
    protected abstract string LongRunningSql { get; }

    private static string Select(string tail) => $"SELECT {EventData.Columns} FROM events {tail}";

    public static TheoryData<int, bool> Limits => new()
    {
        { 1, true }, { 7, true }, { 50, true }, { 333, false }, { 50, false }, { 100_000, true },
    };

    [Theory]
    [MemberData(nameof(Limits))]
    public async Task Ordered_merge_with_limit_equals_the_single_database_answer(int limit, bool descending)
    {
        var f = await FixtureAsync();
        var direction = descending ? "DESC" : "ASC";
        var sql = Select($"WHERE amount > @min ORDER BY at {direction}, id {direction} LIMIT {limit}");
        var parameters = new { min = 100 };
        await using var whole = f.Catalog.OpenSession(Whole);
        var expected = await whole.QueryAsync<EventRow>(sql, parameters);

        var query = f.Map.Query<EventRow>(sql, parameters);
        query = descending
            ? query.OrderByDescending(e => e.At).ThenByDescending(e => e.Id)
            : query.OrderBy(e => e.At).ThenBy(e => e.Id);
        var rows = await query.Take(limit).ToListAsync();

        Assert.Equal(expected.Select(e => e.Id), rows.Select(r => r.Row.Id));
        Assert.All(rows, r => Assert.Equal(r.Shard.DatabaseName, r.Row.Origin));
        Assert.Equal(Math.Min(limit, f.Events.Count(e => e.Amount > 100)), rows.Count); // not vacuous: the limit was reached or every row came
    }

    [Fact]
    public async Task Unordered_stream_returns_every_row_once_and_tells_its_shard()
    {
        var f = await FixtureAsync();
        var rows = await f.Map.Query<EventRow>(Select("")).ToListAsync();
        Assert.Equal(f.Events.Select(e => e.Id).Order(), rows.Select(r => r.Row.Id).Order());
        Assert.All(rows, r =>
        {
            Assert.Equal(r.Shard.DatabaseName, r.Row.Origin); // the row was read where it was written
            Assert.Same(f.Map.ForKey(r.Row.Tenant), r.Shard);  // and that is its key's shard
        });
        Assert.Equal(f.Map.Shards.Count, rows.Select(r => r.Shard).Distinct().Count());
    }

    [Fact]
    public async Task Aggregates_equal_the_single_database_answer()
    {
        var f = await FixtureAsync();
        await using var whole = f.Catalog.OpenSession(Whole);
        var parameters = new { min = 1000 };
        const string where = " FROM events WHERE amount > @min";
        Assert.Equal(await whole.ExecuteScalarAsync<long>("SELECT COUNT(*)" + where, parameters), await f.Map.CountAsync("SELECT COUNT(*)" + where, parameters));
        Assert.Equal(await whole.ExecuteScalarAsync<long>("SELECT SUM(amount)" + where, parameters), await f.Map.SumAsync<long>("SELECT SUM(amount)" + where, parameters));
        Assert.Equal(await whole.ExecuteScalarAsync<long>("SELECT MIN(at)" + where, parameters), await f.Map.MinAsync<long>("SELECT MIN(at)" + where, parameters));
        Assert.Equal(await whole.ExecuteScalarAsync<int>("SELECT MAX(amount)" + where, parameters), await f.Map.MaxAsync<int>("SELECT MAX(amount)" + where, parameters));
        Assert.Null(await f.Map.MaxAsync<int>("SELECT MAX(amount) FROM events WHERE amount > 1000000"));
        Assert.Equal(0, await f.Map.SumAsync<long>("SELECT SUM(amount) FROM events WHERE amount > 1000000"));
    }

    [Fact]
    public async Task A_subset_of_shards_is_queried_alone()
    {
        var f = await FixtureAsync();
        var chosen = new[] { f.Map.Shards[^1].DatabaseName, f.Map.Shards[0].DatabaseName };
        var rows = await f.Map.Query<EventRow>(Select(""), options: new FanOutOptions { Shards = chosen }).ToListAsync();
        Assert.Equal(chosen.Order(), rows.Select(r => r.Shard.DatabaseName).Distinct().Order());
        Assert.Equal(f.Events.Count(e => chosen.Contains(f.Map.ForKey(e.Tenant).DatabaseName)), rows.Count);
        Assert.Throws<ArgumentException>(() => f.Map.Query<EventRow>(Select(""), options: new FanOutOptions { Shards = ["nope"] }));
    }

    [Fact]
    public async Task Bounded_parallelism_and_unbounded_merge_give_the_same_answer()
    {
        var f = await FixtureAsync();
        var sql = Select("ORDER BY at DESC, id DESC LIMIT 40");
        var narrow = await f.Map.Query<EventRow>(sql, options: new FanOutOptions { MaxParallelism = 1 })
            .OrderByDescending(e => e.At).ThenByDescending(e => e.Id).Take(40).ToListAsync();
        var wide = await f.Map.Query<EventRow>(sql).OrderByDescending(e => e.At).ThenByDescending(e => e.Id).Take(40).ToListAsync();
        Assert.Equal(wide.Select(r => r.Row.Id), narrow.Select(r => r.Row.Id));
    }

    [Fact]
    public async Task Rows_out_of_the_merge_order_are_reported_not_silently_misordered()
    {
        var f = await FixtureAsync();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            f.Map.Query<EventRow>(Select("ORDER BY at ASC")).OrderByDescending(e => e.At).ToListAsync().AsTask());
        Assert.Contains("out of the merge order", error.Message);
        Assert.All(f.Map.Shards, s => Assert.Equal(0, s.Engine.GetPoolStatistics().InUse));
    }

    [Fact]
    public async Task Writes_across_shards_are_refused_before_or_by_every_shard()
    {
        var f = await FixtureAsync();
        var write = await Assert.ThrowsAsync<CrossShardWriteException>(() =>
            f.Map.Query<long>("UPDATE events SET amount = 0 WHERE id = 1 RETURNING id").ToListAsync().AsTask());
        Assert.Contains("'events'", write.Message);
        Assert.Equal(1, await f.Map.CountAsync("SELECT COUNT(*) FROM events WHERE id = 1 AND amount = @a", new { a = f.Events[0].Amount }));

        // Keys on two shards: refused before anything runs; keys on one shard: one ordinary session.
        var byShard = f.Events.GroupBy(e => f.Map.ForKey(e.Tenant).Index).ToList();
        var (a, b) = (byShard[0].First().Tenant, byShard[1].First().Tenant);
        var refused = await Assert.ThrowsAsync<CrossShardWriteException>(() => f.Map.OpenSessionForKeysAsync([a, b]).AsTask());
        Assert.Equal(2, refused.Databases.Count);
        await using var session = await f.Map.OpenSessionForKeysAsync([a, a]);
        Assert.Equal(f.Map.ForKey(a).DatabaseName, session.DatabaseName);
    }

    [Fact]
    public async Task Cancelling_stops_every_shard()
    {
        var f = await FixtureAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(400));
        var started = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var row in f.Map.Query<long>(LongRunningSql).WithCancellation(cts.Token))
            {
                Assert.Fail($"a long-running statement returned a row ({row.Shard.DatabaseName})");
            }
        });
        Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(8)); // the statements run for 30+ s when not cancelled
        Assert.All(f.Map.Shards, s => Assert.Equal(0, s.Engine.GetPoolStatistics().InUse));
        await AfterCancellationAsync(f);
    }

    [Fact]
    public async Task A_shard_past_its_shard_timeout_fails_as_a_timeout_without_holding_the_query()
    {
        var f = await FixtureAsync();
        var options = new FanOutOptions { ShardTimeout = TimeSpan.FromMilliseconds(500), FailurePolicy = ShardFailurePolicy.ReturnPartialResults };
        var started = Stopwatch.StartNew();
        var result = await f.Map.Query<long>(LongRunningSql, options: options).ToResultAsync();
        Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(8)); // 30+ s without the limit
        Assert.Empty(result.Rows);
        Assert.Equal(f.Map.Shards.Count, result.Failures.Count);
        Assert.All(result.Failures, failure =>
        {
            var error = Assert.IsType<DatabaseCommandException>(failure.Error);
            Assert.Equal(DatabaseErrorKind.Timeout, error.Kind);
            Assert.Contains("ShardTimeout", error.Message);
        });
        Assert.All(f.Map.Shards, s => Assert.Equal(0, s.Engine.GetPoolStatistics().InUse));
        await AfterCancellationAsync(f);
    }

    [Fact]
    public async Task A_slow_reader_does_not_turn_into_a_shard_timeout()
    {
        // ShardTimeout bounds a shard until its first row; after that a shard waits for the reader (here: a pause longer
        // than the limit, while each shard still has thousands of rows to hand over).
        var f = await FixtureAsync();
        var options = new FanOutOptions { ShardTimeout = TimeSpan.FromMilliseconds(500) };
        const string Rows = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5000) SELECT x FROM n";
        var count = 0;
        await foreach (var row in f.Map.Query<long>(Rows, options: options))
        {
            if (count++ == 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(1.5));
            }
        }

        Assert.Equal(5000 * f.Map.Shards.Count, count);
    }

    /// <summary>Checks on the server side that nothing still runs.</summary>
    protected virtual Task AfterCancellationAsync(FanOutFixture fixture) => Task.CompletedTask;

    [Fact]
    public async Task A_failed_shard_fails_the_query_by_default_naming_only_that_shard()
    {
        var f = await FixtureAsync();
        var bad = f.Broken.Shards[^1].DatabaseName;
        var error = await Assert.ThrowsAsync<ShardQueryException>(() => f.Broken.Query<EventRow>(Select("")).ToListAsync().AsTask());
        var failure = Assert.Single(error.Failures);
        Assert.Equal(bad, failure.Shard.DatabaseName);
        Assert.Contains($"'{bad}'", error.Message);
        Assert.All(f.Secrets, s => Assert.DoesNotContain(s, error.ToString(), StringComparison.Ordinal));
        Assert.All(f.Broken.Shards, s => Assert.Equal(0, s.Engine.GetPoolStatistics().InUse));
    }

    [Fact]
    public async Task Partial_results_return_every_good_shard_and_report_the_failed_one()
    {
        var f = await FixtureAsync();
        var options = new FanOutOptions { FailurePolicy = ShardFailurePolicy.ReturnPartialResults };
        var query = f.Broken.Query<EventRow>(Select("ORDER BY at DESC, id DESC"), options: options).OrderByDescending(e => e.At).ThenByDescending(e => e.Id);
        var rows = await query.ToListAsync();
        var failure = Assert.Single(query.Failures);
        Assert.Equal(f.Broken.Shards[^1], failure.Shard);
        Assert.IsAssignableFrom<SwitchboardException>(failure.Error);
        Assert.Equal(f.Events.Count, rows.Count);
        Assert.Equal(f.Events.OrderByDescending(e => e.At).ThenByDescending(e => e.Id).Select(e => e.Id), rows.Select(r => r.Row.Id));

        // The query the caller holds reports the failures of a query derived from it, too.
        var held = f.Broken.Query<EventRow>(Select("ORDER BY at DESC, id DESC"), options: options);
        Assert.Equal(3, (await held.OrderByDescending(e => e.At).Take(3).ToListAsync()).Count);
        Assert.Equal(f.Broken.Shards[^1], Assert.Single(held.Failures).Shard);

        var buffered = await f.Broken.Query<EventRow>(Select(""), options: options).ToResultAsync();
        Assert.False(buffered.IsComplete);
        Assert.Equal(f.Events.Count, buffered.Rows.Count);
        Assert.Equal(f.Broken.Shards[^1].DatabaseName, Assert.Single(buffered.Failures).Shard.DatabaseName);
    }
}
