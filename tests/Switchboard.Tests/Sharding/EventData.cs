using Dapper;
using Switchboard.Sharding;

namespace Switchboard.Tests.Sharding;

/// <summary>A row of the test table; <see cref="Origin"/> records which database the row was written to.</summary>
public sealed class EventRow
{
    public long Id { get; set; }

    public string Tenant { get; set; } = "";

    public long At { get; set; }

    public int Amount { get; set; }

    public string Origin { get; set; } = "";
}

/// <summary>Writes the same events to a shard map (each on its key's shard) and to one whole database, for comparisons.</summary>
public static class EventData
{
    public const string Table =
        "CREATE TABLE events (id BIGINT PRIMARY KEY, tenant VARCHAR(20) NOT NULL, at BIGINT NOT NULL, amount INTEGER NOT NULL, origin VARCHAR(100) NOT NULL)";

    public const string Columns = "id AS Id, tenant AS Tenant, at AS At, amount AS Amount, origin AS Origin";

    /// <summary>Deterministic events: 100 tenants, timestamps with many ties (so the merge's tie-break matters).</summary>
    public static List<EventRow> Generate(int count, int seed = 7)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(1, count).Select(i => new EventRow
        {
            Id = i,
            Tenant = "t" + random.Next(100),
            At = 1_700_000_000_000 + (random.Next(count / 3) * 1000L),
            Amount = random.Next(-500, 5000),
        })];
    }

    public static async Task LoadAsync(SwitchboardCatalog catalog, ShardMap map, string wholeDatabase, IReadOnlyList<EventRow> events)
    {
        await CreateTableAsync(catalog, wholeDatabase);
        foreach (var shard in map.Shards)
        {
            await CreateTableAsync(catalog, shard.DatabaseName);
        }

        const string insert = "INSERT INTO events (id, tenant, at, amount, origin) VALUES (@Id, @Tenant, @At, @Amount, @Origin)";
        foreach (var group in events.GroupBy(e => map.ForKey(e.Tenant)))
        {
            await using var session = group.Key.OpenSession();
            var rows = group.Select(e => new EventRow { Id = e.Id, Tenant = e.Tenant, At = e.At, Amount = e.Amount, Origin = group.Key.DatabaseName }).ToList();
            await session.Connection.ExecuteAsync(insert, rows, session.Transaction);
            await session.CommitAsync();
        }

        await using var whole = catalog.OpenSession(wholeDatabase);
        await whole.Connection.ExecuteAsync(insert, events.Select(e => new EventRow { Id = e.Id, Tenant = e.Tenant, At = e.At, Amount = e.Amount, Origin = "whole" }),
            whole.Transaction);
        await whole.CommitAsync();
    }

    private static async Task CreateTableAsync(SwitchboardCatalog catalog, string database)
    {
        await using var session = catalog.OpenSession(database);
        await session.ExecuteAsync(Table);
        await session.ExecuteAsync("CREATE INDEX events_at ON events (at, id)");
        await session.CommitAsync();
    }
}
