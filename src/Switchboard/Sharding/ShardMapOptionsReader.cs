using System.Globalization;
using Microsoft.Extensions.Configuration;
using Switchboard.Internal;

namespace Switchboard.Sharding;

/// <summary>
/// Reads shard maps from a <c>Shards</c> configuration section (a sibling of <c>Databases</c> in appsettings.json or
/// switchboard.json), reporting every problem — misspelt keys included — with the map's path.
/// </summary>
internal static class ShardMapOptionsReader
{
    private static readonly string[] Keys = ["Strategy", "Databases", "Ranges", "KeyType", "Lookup", "MaxParallelism"];
    private static readonly string[] LookupKeys = ["Database", "Table", "KeyColumn", "ShardColumn", "CacheTtl", "CacheSize"];
    private static readonly string[] RangeKeys = ["From", "Database"];

    public static void Read(IConfiguration section, List<(string Name, ShardMapOptions Options)> into, List<ConfigurationProblem> problems)
    {
        foreach (var map in section.GetChildren())
        {
            var path = "Shards:" + map.Key;
            void Problem(string key, string message) => problems.Add(new(path, key, message));
            var options = new ShardMapOptions();
            IConfigurationSection? ranges = null;
            foreach (var child in map.GetChildren())
            {
                switch (child.Key.ToLowerInvariant())
                {
                    case "strategy":
                        if (Enum.TryParse<ShardStrategy>(child.Value, ignoreCase: true, out var strategy) && Enum.IsDefined(strategy))
                        {
                            options.Strategy = strategy;
                        }
                        else
                        {
                            Problem(child.Key, $"'{child.Value}' is not a strategy (hash, range or lookup)");
                        }

                        break;
                    case "databases":
                        options.Databases = ReadList(child);
                        break;
                    case "keytype":
                        switch (child.Value?.ToLowerInvariant())
                        {
                            case "integer" or "int" or "long": options.KeyType = ShardKeyKind.Integer; break;
                            case "string" or "text": options.KeyType = ShardKeyKind.String; break;
                            default: Problem(child.Key, $"'{child.Value}' is not a range key type (integer or string)"); break;
                        }

                        break;
                    case "maxparallelism":
                        if (int.TryParse(child.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parallelism))
                        {
                            options.MaxParallelism = parallelism;
                        }
                        else
                        {
                            Problem(child.Key, $"'{child.Value}' is not a whole number");
                        }

                        break;
                    case "ranges":
                        ranges = child; // read last: the bounds' type depends on KeyType
                        break;
                    case "lookup":
                        ReadLookup(child, options.Lookup, Problem);
                        break;
                    default:
                        Problem(child.Key, UnknownKey(child.Key, Keys));
                        break;
                }
            }

            if (ranges is not null)
            {
                foreach (var range in Ordered(ranges))
                {
                    var r = new ShardRange();
                    foreach (var child in range.GetChildren())
                    {
                        var key = $"Ranges:{range.Key}:{child.Key}";
                        switch (child.Key.ToLowerInvariant())
                        {
                            case "database": r.Database = child.Value; break;
                            case "from":
                                if (options.KeyType == ShardKeyKind.Integer)
                                {
                                    if (long.TryParse(child.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var bound))
                                    {
                                        r.From = bound;
                                    }
                                    else
                                    {
                                        Problem(key, $"'{child.Value}' is not a whole number (set \"KeyType\": \"string\" for string ranges)");
                                    }
                                }
                                else if (child.Value is not null)
                                {
                                    r.From = child.Value;
                                }

                                break;
                            default: Problem(key, UnknownKey(child.Key, RangeKeys)); break;
                        }
                    }

                    options.Ranges.Add(r);
                }
            }

            into.Add((map.Key, options));
        }
    }

    private static void ReadLookup(IConfigurationSection section, ShardLookupOptions lookup, Action<string, string> problem)
    {
        foreach (var child in section.GetChildren())
        {
            var key = "Lookup:" + child.Key;
            switch (child.Key.ToLowerInvariant())
            {
                case "database": lookup.Database = child.Value; break;
                case "table": lookup.Table = child.Value; break;
                case "keycolumn": lookup.KeyColumn = child.Value ?? ""; break;
                case "shardcolumn": lookup.ShardColumn = child.Value ?? ""; break;
                case "cachettl":
                    if (Durations.TryParse(child.Value, out var ttl))
                    {
                        lookup.CacheTtl = ttl;
                    }
                    else
                    {
                        problem(key, $"'{child.Value}' is not a duration (write 30, 30s, 500ms, 2m or 00:00:30)");
                    }

                    break;
                case "cachesize":
                    if (int.TryParse(child.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var size))
                    {
                        lookup.CacheSize = size;
                    }
                    else
                    {
                        problem(key, $"'{child.Value}' is not a whole number");
                    }

                    break;
                default: problem(key, UnknownKey(child.Key, LookupKeys)); break;
            }
        }
    }

    /// <summary>A list written as a JSON array (children 0, 1, …) or as one comma-separated string.</summary>
    internal static List<string> ReadList(IConfigurationSection section) =>
        section.Value is { } single
            ? [.. single.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)]
            : [.. Ordered(section).Select(c => c.Value ?? "")];

    /// <summary>Array elements in index order (configuration sorts keys as strings: "10" before "2").</summary>
    private static IEnumerable<IConfigurationSection> Ordered(IConfigurationSection section) =>
        section.GetChildren().OrderBy(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : int.MaxValue);

    internal static string UnknownKey(string key, IEnumerable<string> known)
    {
        var list = known.ToList();
        var suggestion = Spelling.Closest(key, list);
        return suggestion is null
            ? $"unknown key (known keys: {string.Join(", ", list)})"
            : $"unknown key (did you mean '{suggestion}'?)";
    }
}
