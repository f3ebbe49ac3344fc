using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Switchboard.Sharding;

namespace Switchboard;

public sealed partial class SwitchboardCatalogBuilder
{
    private const int MaxDefaultParallelism = 64;

    private readonly List<(string Name, ShardMapOptions Options)> _shardMaps = [];

    /// <summary>Adds a shard map over databases of this catalog. The options are validated and copied when <see cref="Build"/> runs.</summary>
    public SwitchboardCatalogBuilder AddShardMap(string name, ShardMapOptions options)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfBuilt();
        _shardMaps.Add((name, options));
        return this;
    }

    /// <summary>Adds a shard map with a strategy and its shards' database names, in order.</summary>
    public SwitchboardCatalogBuilder AddShardMap(string name, ShardStrategy strategy, IEnumerable<string> databases, Action<ShardMapOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(databases);
        var options = new ShardMapOptions { Strategy = strategy, Databases = [.. databases] };
        configure?.Invoke(options);
        return AddShardMap(name, options);
    }

    /// <summary>
    /// Adds every shard map of a configuration section shaped like
    /// <c>{ "events": { "Strategy": "hash", "Databases": ["events_0", "events_1"] } }</c> (the <c>Shards</c> section,
    /// a sibling of <c>Databases</c>).
    /// </summary>
    public SwitchboardCatalogBuilder AddShardConfiguration(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        ThrowIfBuilt();
        ShardMapOptionsReader.Read(section, _shardMaps, _readProblems);
        return this;
    }

    /// <summary>Validates every shard map against the databases; returns how to create them once the catalog exists.</summary>
    private List<Func<SwitchboardCatalog, ShardMap>> ValidateShardMaps(IReadOnlyCollection<string> databases, List<ConfigurationProblem> problems)
    {
        var factories = new List<Func<SwitchboardCatalog, ShardMap>>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, options) in _shardMaps)
        {
            var path = "Shards:" + name;
            var before = problems.Count;
            void Problem(string key, string message) => problems.Add(new(path, key, message));
            if (!IsValidName(name))
            {
                Problem("(name)", "a shard map name must be 1-64 letters, digits, '_', '-' or '.'");
                continue;
            }

            if (!seen.Add(name))
            {
                Problem("(name)", "configured twice (names are case-insensitive)");
                continue;
            }

            string? Known(string? database, string key)
            {
                if (string.IsNullOrWhiteSpace(database))
                {
                    Problem(key, "no database named");
                    return null;
                }

                var match = databases.FirstOrDefault(d => string.Equals(d, database, StringComparison.OrdinalIgnoreCase));
                if (match is null)
                {
                    var suggestion = Internal.Spelling.Closest(database, databases);
                    Problem(key, suggestion is null
                        ? $"no database named '{database}' in the catalog"
                        : $"no database named '{database}' in the catalog (did you mean '{suggestion}'?)");
                }

                return match;
            }

            var shards = new List<string>();
            for (var i = 0; i < options.Databases.Count; i++)
            {
                if (Known(options.Databases[i], $"Databases:{i}") is { } database)
                {
                    if (shards.Contains(database, StringComparer.OrdinalIgnoreCase))
                    {
                        Problem($"Databases:{i}", $"'{database}' is listed twice: each shard is a different database");
                    }
                    else
                    {
                        shards.Add(database);
                    }
                }
            }

            if (options.MaxParallelism is < 1)
            {
                Problem("MaxParallelism", $"must be at least 1 (is {options.MaxParallelism})");
            }

            if (options.Strategy != ShardStrategy.Range && options.Ranges.Count > 0)
            {
                Problem("Ranges", $"ranges are only for the range strategy (this map uses {options.Strategy.ToString().ToLowerInvariant()})");
            }

            Func<ShardMap, IShardRouter>? router = null;
            switch (options.Strategy)
            {
                case ShardStrategy.Hash:
                    if (options.Databases.Count == 0)
                    {
                        Problem("Databases", "a hash shard map needs at least one database");
                    }

                    router = _ => new HashShardRouter(shards.Count);
                    break;
                case ShardStrategy.Range:
                    router = ValidateRanges(options, shards, Known, Problem);
                    break;
                case ShardStrategy.Lookup:
                    router = ValidateLookup(name, options, shards, Known, Problem);
                    break;
                default:
                    Problem("Strategy", $"unknown strategy {options.Strategy}");
                    break;
            }

            if (problems.Count > before || router is null)
            {
                continue;
            }

            var frozen = shards.ToArray();
            var parallelism = options.MaxParallelism ?? Math.Min(frozen.Length, MaxDefaultParallelism);
            factories.Add(catalog => new ShardMap(catalog, name, frozen, router, parallelism));
        }

        return factories;
    }

    private static Func<ShardMap, IShardRouter>? ValidateRanges(ShardMapOptions options, List<string> shards, Func<string?, string, string?> known,
        Action<string, string> problem)
    {
        if (options.KeyType is not (ShardKeyKind.Integer or ShardKeyKind.String))
        {
            problem("KeyType", $"range keys are integers or strings, not {options.KeyType}");
            return null;
        }

        if (options.Ranges.Count == 0)
        {
            problem("Ranges", "a range shard map needs at least one range");
            return null;
        }

        var listed = shards.Count > 0;
        var ranges = new List<(ShardKey? From, string Database)>();
        for (var i = 0; i < options.Ranges.Count; i++)
        {
            var range = options.Ranges[i];
            var key = $"Ranges:{i}";
            if (i == 0 && range.From is not null)
            {
                problem(key + ":From", "the first range must have no lower bound, so that every key has a shard");
            }
            else if (i > 0 && range.From is null)
            {
                problem(key + ":From", "only the first range may leave out its lower bound");
            }
            else if (range.From is { } from && from.Kind != options.KeyType)
            {
                problem(key + ":From", $"the bound {from} is a {from.Kind}, but the map's KeyType is {options.KeyType}");
            }
            else if (i > 0 && ranges[^1].From is { } previous && range.From!.Value.Kind == previous.Kind && range.From.Value <= previous)
            {
                problem(key + ":From", $"bounds must increase: {range.From} does not come after {previous}");
            }

            if (known(range.Database, key + ":Database") is { } database)
            {
                if (!listed && !shards.Contains(database, StringComparer.OrdinalIgnoreCase))
                {
                    shards.Add(database);
                }
                else if (listed && !shards.Contains(database, StringComparer.OrdinalIgnoreCase))
                {
                    problem(key + ":Database", $"'{database}' is not one of the map's Databases");
                }

                ranges.Add((range.From, database));
            }
        }

        var kind = options.KeyType;
        return map => new RangeShardRouter(map.Name, kind,
            [.. ranges.Select(r => (r.From, shards.FindIndex(s => string.Equals(s, r.Database, StringComparison.OrdinalIgnoreCase))))]);
    }

    private static Func<ShardMap, IShardRouter>? ValidateLookup(string name, ShardMapOptions options, List<string> shards,
        Func<string?, string, string?> known, Action<string, string> problem)
    {
        var lookup = options.Lookup;
        if (options.Databases.Count == 0)
        {
            problem("Databases", "a lookup shard map needs at least one database");
        }

        var directory = known(lookup.Database, "Lookup:Database");
        var ok = directory is not null;
        ok &= CheckIdentifier(lookup.Table, "Lookup:Table", problem, qualified: true);
        ok &= CheckIdentifier(lookup.KeyColumn, "Lookup:KeyColumn", problem, qualified: false);
        ok &= CheckIdentifier(lookup.ShardColumn, "Lookup:ShardColumn", problem, qualified: false);
        if (lookup.CacheTtl < TimeSpan.Zero)
        {
            problem("Lookup:CacheTtl", "must not be negative");
            ok = false;
        }

        if (lookup.CacheSize < 1)
        {
            problem("Lookup:CacheSize", $"must be at least 1 (is {lookup.CacheSize})");
            ok = false;
        }

        if (!ok)
        {
            return null;
        }

        var (table, keyColumn, shardColumn, ttl, size) = (lookup.Table!, lookup.KeyColumn, lookup.ShardColumn, lookup.CacheTtl, lookup.CacheSize);
        return map => new LookupShardRouter(name, new DirectoryTable(map.Catalog, directory!, table, keyColumn, shardColumn, ttl, size),
            map.Shards.ToDictionary(s => s.DatabaseName, s => s.Index, StringComparer.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Table and column names are embedded in SQL, so only plain identifiers are accepted (no quoting needed on any
    /// dialect, nothing to inject).
    /// </summary>
    internal static bool CheckIdentifier(string? value, string key, Action<string, string> problem, bool qualified)
    {
        var pattern = qualified ? QualifiedIdentifier() : PlainIdentifier();
        if (value is not null && pattern.IsMatch(value))
        {
            return true;
        }

        problem(key, $"'{value}' is not a plain identifier (letters, digits and '_', not starting with a digit{(qualified ? "; optionally schema.table" : "")})");
        return false;
    }

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]{0,62}\z")]
    private static partial Regex PlainIdentifier();

    [GeneratedRegex(@"^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}\z")]
    private static partial Regex QualifiedIdentifier();
}
