namespace Switchboard.Sharding;

/// <summary>A shard map name the catalog does not hold. Lists the maps it does hold.</summary>
public sealed class UnknownShardMapException : SwitchboardException
{
    internal UnknownShardMapException(string requestedName, IReadOnlyList<string> configuredNames)
        : base(BuildMessage(requestedName, configuredNames))
    {
        RequestedName = requestedName;
        ConfiguredNames = configuredNames;
    }

    public string RequestedName { get; }

    public IReadOnlyList<string> ConfiguredNames { get; }

    private static string BuildMessage(string name, IReadOnlyList<string> configured) =>
        Internal.Spelling.UnknownNameMessage("shard map", name, configured, "(none; add a \"Shards\" section or call AddShardMap)");
}

/// <summary>A lookup shard map's directory has no (usable) row for a key.</summary>
public sealed class ShardKeyNotFoundException : SwitchboardException
{
    internal ShardKeyNotFoundException(string mapName, ShardKey key, string directoryDatabase, string table, string? reason = null)
        : base($"Shard map '{mapName}' cannot place key {key}: {reason ?? "it has no row"} in directory table {table} of database '{directoryDatabase}'. " +
            "Assign it first (ShardMap.AssignAsync) or insert the row.", directoryDatabase, null, null)
    {
        ShardMapName = mapName;
        Key = key;
    }

    public string ShardMapName { get; }

    public ShardKey Key { get; }
}

/// <summary>One shard's failure during a fan-out query.</summary>
/// <param name="Shard">The shard that failed.</param>
/// <param name="Error">What went wrong (a <see cref="SwitchboardException"/> naming the shard's database).</param>
public sealed record ShardFailure(Shard Shard, Exception Error)
{
    public override string ToString() => $"{Shard.DatabaseName}: {Error.Message}";
}

/// <summary>
/// A fan-out query failed on one or more shards and the failure policy was <see cref="ShardFailurePolicy.FailQuery"/>.
/// Lists every shard that failed with its error; shards that were merely stopped because of it are not listed.
/// </summary>
public sealed class ShardQueryException : SwitchboardException
{
    internal ShardQueryException(string mapName, int shardCount, IReadOnlyList<ShardFailure> failures)
        : base($"Fan-out query on shard map '{mapName}' failed on {failures.Count} of {shardCount} shard{(shardCount == 1 ? "" : "s")}: " +
            string.Join("; ", failures.Select(f => f.ToString())), failures[0].Error)
    {
        ShardMapName = mapName;
        Failures = failures;
    }

    public string ShardMapName { get; }

    public IReadOnlyList<ShardFailure> Failures { get; }

    public override bool IsTransient => Failures.All(f => f.Error is System.Data.Common.DbException { IsTransient: true });
}

/// <summary>
/// A write that would touch more than one shard outside a distributed transaction was refused: without an atomic commit
/// on every shard, half of the write could be committed. Write per shard (<c>map.ForKey(key).OpenSession()</c>) or
/// through <see cref="ShardMap.BeginDistributedAsync"/> (two-phase commit).
/// </summary>
public sealed class CrossShardWriteException : InvalidOperationException
{
    internal CrossShardWriteException(string mapName, IReadOnlyList<string> databases, string detail, Exception? inner = null)
        : base($"Refused a write across shards of shard map '{mapName}' ({string.Join(", ", databases)}): {detail} " +
            "A write spanning shards must commit on all of them or none: use map.BeginDistributedAsync(keys) (two-phase commit), " +
            "or write to one shard per session (map.ForKey(key).OpenSession()).", inner)
    {
        ShardMapName = mapName;
        Databases = databases;
    }

    public string ShardMapName { get; }

    /// <summary>The shards' databases the write would have touched.</summary>
    public IReadOnlyList<string> Databases { get; }
}
