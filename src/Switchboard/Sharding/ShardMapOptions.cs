namespace Switchboard.Sharding;

/// <summary>How a shard map assigns a key to a shard.</summary>
public enum ShardStrategy
{
    /// <summary>Jump consistent hash of the key's canonical bytes (see <see cref="ShardKey"/>). The default.</summary>
    Hash,

    /// <summary>Contiguous key ranges, each owned by one shard.</summary>
    Range,

    /// <summary>A directory table (key → shard database name) in a named database, cached.</summary>
    Lookup,
}

/// <summary>
/// How one shard map (a logical database made of several named databases) is configured, in code or from a
/// <c>Shards</c> configuration section. Mutable while configuring; <see cref="SwitchboardCatalogBuilder.Build"/>
/// validates it (reporting every problem with the catalog's others) and freezes it.
/// </summary>
public sealed class ShardMapOptions
{
    /// <summary>How keys map to shards. Default <see cref="ShardStrategy.Hash"/>.</summary>
    public ShardStrategy Strategy { get; set; } = ShardStrategy.Hash;

    /// <summary>
    /// The shards: names of databases of the catalog, in a fixed order. For <see cref="ShardStrategy.Hash"/> the order
    /// is part of the mapping: only append new shards at the end (see docs/sharding.md). For
    /// <see cref="ShardStrategy.Range"/> it may be left empty (the ranges' databases are used).
    /// </summary>
    public IList<string> Databases { get; set; } = [];

    /// <summary>
    /// Range strategy: the ranges, each from its <see cref="ShardRange.From"/> (inclusive) up to the next range's.
    /// The first range must have no lower bound, so that every key belongs to exactly one range.
    /// </summary>
    public IList<ShardRange> Ranges { get; set; } = [];

    /// <summary>Range strategy: the kind of the keys (<see cref="ShardKeyKind.Integer"/>, the default, or <see cref="ShardKeyKind.String"/>).</summary>
    public ShardKeyKind KeyType { get; set; } = ShardKeyKind.Integer;

    /// <summary>Lookup strategy: where the directory table is.</summary>
    public ShardLookupOptions Lookup { get; set; } = new();

    /// <summary>Most shards queried at once by a fan-out query. Default: every shard of the map at once (at most 64).</summary>
    public int? MaxParallelism { get; set; }
}

/// <summary>One range of a range shard map: keys from <see cref="From"/> (inclusive; null for no lower bound) up to the next range's bound.</summary>
public sealed class ShardRange
{
    public ShardRange()
    {
    }

    public ShardRange(ShardKey? from, string database)
    {
        From = from;
        Database = database;
    }

    /// <summary>The range's inclusive lower bound; null for the first range (no lower bound).</summary>
    public ShardKey? From { get; set; }

    /// <summary>The database (shard) that owns the range.</summary>
    public string? Database { get; set; }
}

/// <summary>Where a lookup shard map finds its directory: a table with one row per key, naming the key's shard database.</summary>
public sealed class ShardLookupOptions
{
    /// <summary>The named database holding the directory table.</summary>
    public string? Database { get; set; }

    /// <summary>The table (optionally schema-qualified: <c>sharding.directory</c>). Plain identifiers only.</summary>
    public string? Table { get; set; }

    /// <summary>The key column. Default <c>shard_key</c>.</summary>
    public string KeyColumn { get; set; } = "shard_key";

    /// <summary>The column naming the shard's database. Default <c>shard</c>.</summary>
    public string ShardColumn { get; set; } = "shard";

    /// <summary>
    /// How long a looked-up answer is reused before the table is asked again. Default 5 minutes. A key moved to another
    /// shard is seen by other processes only after this; the process that moves it calls <see cref="ShardMap.Invalidate"/>.
    /// </summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Most keys cached. Default 100,000; when full, expired entries go first, then the oldest.</summary>
    public int CacheSize { get; set; } = 100_000;
}
