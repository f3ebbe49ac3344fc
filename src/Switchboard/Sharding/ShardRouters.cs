using Switchboard.Internal;

namespace Switchboard.Sharding;

/// <summary>Maps a key to the index of its shard. Implementations are immutable apart from caches, and thread-safe.</summary>
internal interface IShardRouter
{
    ShardStrategy Strategy { get; }

    ValueTask<int> LocateAsync(ShardKey key, IOBehavior io, CancellationToken cancellationToken);
}

/// <summary>Jump consistent hash over the shards in their configured order.</summary>
internal sealed class HashShardRouter(int shards) : IShardRouter
{
    public ShardStrategy Strategy => ShardStrategy.Hash;

    public ValueTask<int> LocateAsync(ShardKey key, IOBehavior io, CancellationToken cancellationToken) => new(StableHash.Bucket(key, shards));
}

/// <summary>Sorted lower bounds; a key belongs to the last range whose bound is not above it (binary search).</summary>
internal sealed class RangeShardRouter : IShardRouter
{
    private readonly string _mapName;
    private readonly ShardKeyKind _kind;
    private readonly ShardKey[] _bounds;   // bounds of ranges 1..n-1 (range 0 is unbounded below)
    private readonly int[] _shards;        // shard index of ranges 0..n-1

    public RangeShardRouter(string mapName, ShardKeyKind kind, IReadOnlyList<(ShardKey? From, int Shard)> ranges)
    {
        _mapName = mapName;
        _kind = kind;
        _bounds = [.. ranges.Skip(1).Select(r => r.From!.Value)];
        _shards = [.. ranges.Select(r => r.Shard)];
    }

    public ShardStrategy Strategy => ShardStrategy.Range;

    public ValueTask<int> LocateAsync(ShardKey key, IOBehavior io, CancellationToken cancellationToken)
    {
        if (key.Kind != _kind)
        {
            throw new ArgumentException($"Shard map '{_mapName}' has {_kind} ranges; the key {key} is a {key.Kind}.", nameof(key));
        }

        // Index of the first bound greater than the key = the range the key falls in.
        int lo = 0, hi = _bounds.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_bounds[mid] <= key)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return new(_shards[lo]);
    }
}

/// <summary>Asks the directory table (through its cache) which database holds a key.</summary>
internal sealed class LookupShardRouter(string mapName, DirectoryTable directory, IReadOnlyDictionary<string, int> shardIndexes) : IShardRouter
{
    public DirectoryTable Directory => directory;

    public ShardStrategy Strategy => ShardStrategy.Lookup;

    public async ValueTask<int> LocateAsync(ShardKey key, IOBehavior io, CancellationToken cancellationToken)
    {
        var database = await directory.LookupAsync(key, io, cancellationToken).ConfigureAwait(false)
            ?? throw new ShardKeyNotFoundException(mapName, key, directory.Database, directory.Table);
        if (shardIndexes.TryGetValue(database.Trim(), out var index))
        {
            return index;
        }

        directory.Invalidate(key);
        throw new ShardKeyNotFoundException(mapName, key, directory.Database, directory.Table,
            $"the directory names '{database}', which is not a shard of the map (shards: {string.Join(", ", shardIndexes.OrderBy(p => p.Value).Select(p => p.Key))})");
    }
}
