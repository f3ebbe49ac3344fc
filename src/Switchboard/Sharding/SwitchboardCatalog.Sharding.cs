using System.Collections.Frozen;
using Switchboard.Sharding;

namespace Switchboard;

public sealed partial class SwitchboardCatalog
{
    private FrozenDictionary<string, ShardMap> _shardMaps = FrozenDictionary<string, ShardMap>.Empty;

    /// <summary>The configured shard map names, sorted.</summary>
    public IReadOnlyList<string> ShardMapNames => [.. _shardMaps.Keys.Order(StringComparer.OrdinalIgnoreCase)];

    /// <summary>A shard map (a logical database made of several of this catalog's databases); throws <see cref="UnknownShardMapException"/> listing the maps.</summary>
    public ShardMap Shards(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _shardMaps.TryGetValue(name, out var map) ? map : throw new UnknownShardMapException(name, ShardMapNames);
    }

    internal void AttachShardMaps(IEnumerable<ShardMap> maps) =>
        _shardMaps = maps.ToFrozenDictionary(m => m.Name, StringComparer.OrdinalIgnoreCase);
}
