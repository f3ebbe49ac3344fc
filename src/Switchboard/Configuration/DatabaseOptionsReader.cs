using System.Globalization;
using Microsoft.Extensions.Configuration;
using Switchboard.Internal;

namespace Switchboard;

/// <summary>
/// Reads named <see cref="DatabaseOptions"/> from a <c>Databases</c> configuration section (appsettings.json,
/// switchboard.json, environment variables such as <c>Databases__orders__Url</c>). Reads by hand rather than with
/// the binder so that every problem, including a misspelt key, is reported at once with its database and key.
/// </summary>
internal static class DatabaseOptionsReader
{
    private static readonly string[] TopLevelKeys =
    [
        "Url", "Provider", "ConnectionString", "Password", "PasswordEnvironmentVariable", "CommandTimeout",
        "ConnectTimeout", "Pool", "Options", "TwoPhaseCommit", "Replicas", "Routing",
    ];

    private static readonly string[] PoolKeys = ["MaxSize", "MinIdle", "ConnectionLifetime", "CheckoutTimeout", "PrePing"];

    public static void Read(IConfiguration section, IReadOnlyCollection<string> extensionKeys,
        List<(string Name, DatabaseOptions Options)> into, List<ConfigurationProblem> problems)
    {
        foreach (var database in section.GetChildren())
        {
            var name = database.Key;
            if (database.Value is not null && !database.GetChildren().Any())
            {
                // "orders": "postgresql://…" is accepted as a shorthand for { "Url": … }.
                if (!database.Value.Contains("://", StringComparison.Ordinal) && !database.Value.Contains("${", StringComparison.Ordinal))
                {
                    // Not a URL at all (a number, a stray string): say what an entry looks like, not how a URL fails to parse.
                    problems.Add(new(name, "(value)", "a database is a URL (for example \"" + name
                        + "\": \"postgresql://user@host/db\") or an object with Url or ConnectionString; this value is neither"));
                    continue;
                }

                into.Add((name, new DatabaseOptions { Url = database.Value }));
                continue;
            }

            var options = new DatabaseOptions();
            foreach (var child in database.GetChildren())
            {
                var key = child.Key;
                switch (key.ToLowerInvariant())
                {
                    case "url": options.Url = child.Value; break;
                    case "provider": options.Provider = child.Value; break;
                    case "connectionstring": options.ConnectionString = child.Value; break;
                    case "password": options.Password = child.Value; break;
                    case "passwordenvironmentvariable": options.PasswordEnvironmentVariable = child.Value; break;
                    case "commandtimeout": options.CommandTimeout = ReadDuration(name, key, child.Value, problems); break;
                    case "connecttimeout": options.ConnectTimeout = ReadDuration(name, key, child.Value, problems); break;
                    case "pool": ReadPool(name, child, options.Pool, problems); break;
                    case "twophasecommit":
                        if (bool.TryParse(child.Value, out var twoPhase))
                        {
                            options.TwoPhaseCommit = twoPhase;
                        }
                        else
                        {
                            problems.Add(new(name, key, $"'{child.Value}' is not true or false"));
                        }

                        break;
                    case "options":
                        foreach (var option in child.GetChildren())
                        {
                            options.Options[option.Key] = option.Value ?? string.Empty;
                        }

                        break;
                    case "replicas": RoutingOptionsReader.ReadReplicas(name, child, options.Replicas, problems); break;
                    case "routing": RoutingOptionsReader.Read(name, child, options.Routing, problems); break;
                    default:
                        if (!extensionKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
                        {
                            problems.Add(new(name, key, UnknownKey(key, TopLevelKeys.Concat(extensionKeys))));
                        }

                        break;
                }
            }

            into.Add((name, options));
        }
    }

    private static void ReadPool(string database, IConfigurationSection section, PoolOptions pool, List<ConfigurationProblem> problems)
    {
        if (section.Value is not null && !section.GetChildren().Any())
        {
            problems.Add(new(database, "Pool", $"'{section.Value}' is not an object: give {{ {string.Join(", ", PoolKeys.Select(k => "\"" + k + "\": …"))} }}"));
            return;
        }

        foreach (var child in section.GetChildren())
        {
            var key = "Pool:" + child.Key;
            switch (child.Key.ToLowerInvariant())
            {
                case "maxsize": pool.MaxSize = ReadInt(database, key, child.Value, problems); break;
                case "minidle": pool.MinIdle = ReadInt(database, key, child.Value, problems); break;
                case "connectionlifetime": pool.ConnectionLifetime = ReadDuration(database, key, child.Value, problems); break;
                case "checkouttimeout": pool.CheckoutTimeout = ReadDuration(database, key, child.Value, problems); break;
                case "preping":
                    if (bool.TryParse(child.Value, out var b))
                    {
                        pool.PrePing = b;
                    }
                    else
                    {
                        problems.Add(new(database, key, $"'{child.Value}' is not true or false"));
                    }

                    break;
                default: problems.Add(new(database, key, UnknownKey(child.Key, PoolKeys))); break;
            }
        }
    }

    internal static string UnknownKey(string key, IEnumerable<string> known)
    {
        var list = known.ToList();
        var suggestion = Spelling.Closest(key, list);
        return suggestion is null
            ? $"unknown key (known keys: {string.Join(", ", list)})"
            : $"unknown key (did you mean '{suggestion}'?)";
    }

    internal static int? ReadInt(string database, string key, string? value, List<ConfigurationProblem> problems)
    {
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i))
        {
            return i;
        }

        problems.Add(new(database, key, $"'{value}' is not a whole number"));
        return null;
    }

    internal static TimeSpan? ReadDuration(string database, string key, string? value, List<ConfigurationProblem> problems)
    {
        if (Durations.TryParse(value, out var d))
        {
            return d;
        }

        problems.Add(new(database, key, $"'{value}' is not a duration (write 30, 30s, 500ms, 2m or 00:00:30)"));
        return null;
    }
}

/// <summary>Durations as people write them in configuration: seconds as a number, or 500ms / 30s / 2m / 1h, or hh:mm:ss.</summary>
internal static class Durations
{
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var t = text.Trim();
        (string Suffix, double Scale)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, scale) in units)
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(t.AsSpan(0, t.Length - suffix.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
            {
                value = TimeSpan.FromSeconds(n * scale);
                return n >= 0;
            }
        }

        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            value = TimeSpan.FromSeconds(seconds);
            return seconds >= 0;
        }

        return TimeSpan.TryParse(t, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
    }
}

/// <summary>Expands <c>${NAME}</c> references to environment variables.</summary>
internal static class EnvironmentReferences
{
    /// <summary>
    /// Expands every reference; the names of unset variables are added to <paramref name="missing"/>.
    /// In a URL (<paramref name="percentEncode"/>) each value is percent-encoded, so a password full of '@', ':' or '/'
    /// arrives intact once the URL parser decodes it.
    /// </summary>
    public static string? Expand(string? text, Func<string, string?> lookup, List<string> missing, bool percentEncode)
    {
        if (text is null || !text.Contains("${", StringComparison.Ordinal))
        {
            return text;
        }

        var sb = new System.Text.StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var start = text.IndexOf("${", i, StringComparison.Ordinal);
            var end = start < 0 ? -1 : text.IndexOf('}', start + 2);
            if (start < 0 || end < 0)
            {
                sb.Append(text, i, text.Length - i);
                break;
            }

            sb.Append(text, i, start - i);
            var name = text[(start + 2)..end];
            var value = lookup(name);
            if (value is null)
            {
                missing.Add(name);
            }
            else if (percentEncode)
            {
                sb.Append(Uri.EscapeDataString(value));
            }
            else
            {
                sb.Append(IsWholeValue(text, start, end) ? QuoteIfNeeded(value) : value);
            }

            i = end + 1;
        }

        return sb.ToString();
    }

    // In a connection string, "Key=${NAME}" up to the next ';' (or the end): the reference is the key's whole value.
    private static bool IsWholeValue(string text, int start, int end)
    {
        var before = text[..start].TrimEnd();
        var after = text[(end + 1)..].TrimStart();
        return before.EndsWith('=') && (after.Length == 0 || after[0] == ';');
    }

    // A value holding ';', quotes or '=' (a password, say) would otherwise split into keys of its own, whose text a
    // driver's error then echoes: quote it the way connection strings do, inner double quotes doubled.
    private static string QuoteIfNeeded(string value) =>
        value.AsSpan().IndexOfAny(";'\"=") >= 0 || value != value.Trim()
            ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : value;
}
