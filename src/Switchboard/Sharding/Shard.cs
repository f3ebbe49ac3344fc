namespace Switchboard.Sharding;

/// <summary>One shard of a shard map: a named database of the catalog, at a fixed position in the map.</summary>
public sealed class Shard
{
    private readonly SwitchboardCatalog _catalog;

    internal Shard(SwitchboardCatalog catalog, ShardMap map, int index, string databaseName)
    {
        _catalog = catalog;
        Map = map;
        Index = index;
        DatabaseName = databaseName;
    }

    public ShardMap Map { get; }

    /// <summary>The shard's position in the map's configured order (0-based).</summary>
    public int Index { get; }

    /// <summary>The name of the shard's database in the catalog.</summary>
    public string DatabaseName { get; }

    /// <summary>The shard's engine (pool).</summary>
    public DatabaseEngine Engine => _catalog.GetEngine(DatabaseName);

    /// <summary>Opens a session (unit of work) on this shard; reads and writes here touch this shard only.</summary>
    public DatabaseSession OpenSession(SessionOptions? options = null) => _catalog.OpenSession(DatabaseName, options);

    /// <inheritdoc cref="OpenSession(SessionOptions?)"/>
    public DatabaseSession OpenSession(SessionIntent intent) => _catalog.OpenSession(DatabaseName, intent);

    public override string ToString() => $"{Map.Name}[{Index}] ({DatabaseName})";
}

/// <summary>A row of a fan-out query with the shard it came from.</summary>
/// <param name="Shard">Where the row was read.</param>
/// <param name="Row">The row, mapped by Dapper.</param>
public readonly record struct ShardRow<T>(Shard Shard, T Row);

/// <summary>What a fan-out query does when a shard fails.</summary>
public enum ShardFailurePolicy
{
    /// <summary>Stop every shard and throw <see cref="ShardQueryException"/> listing the failed shards. The default.</summary>
    FailQuery,

    /// <summary>Keep the rows of the shards that answered; report the failed ones in <see cref="ShardQuery{T}.Failures"/>.</summary>
    ReturnPartialResults,
}

/// <summary>Options of one fan-out query. Immutable.</summary>
public sealed record FanOutOptions
{
    public static FanOutOptions Default { get; } = new();

    /// <summary>Most shards queried at once; null takes the map's <see cref="ShardMap.MaxParallelism"/>.</summary>
    public int? MaxParallelism { get; init; }

    public ShardFailurePolicy FailurePolicy { get; init; } = ShardFailurePolicy.FailQuery;

    /// <summary>Query only these shards (by database name); null for every shard of the map.</summary>
    public IReadOnlyCollection<string>? Shards { get; init; }

    /// <summary>Overrides each shard database's default command timeout.</summary>
    public TimeSpan? CommandTimeout { get; init; }

    /// <summary>
    /// The longest one shard may take to connect and answer, or null for no limit beyond its connect and command
    /// timeouts. A shard past it fails with <see cref="DatabaseErrorKind.Timeout"/> (a failure under the failure policy).
    /// </summary>
    public TimeSpan? ShardTimeout { get; init; }
}

/// <summary>The buffered answer of a fan-out query: every row with its shard, and the shards that failed (partial results only).</summary>
public sealed record ShardQueryResult<T>(IReadOnlyList<ShardRow<T>> Rows, IReadOnlyList<ShardFailure> Failures)
{
    /// <summary>Whether every queried shard answered.</summary>
    public bool IsComplete => Failures.Count == 0;
}
