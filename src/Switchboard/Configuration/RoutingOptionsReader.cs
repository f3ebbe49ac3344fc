using Microsoft.Extensions.Configuration;
using Switchboard.Internal;

namespace Switchboard;

/// <summary>Reads a database's <c>Replicas</c> list and <c>Routing</c> section, reporting every problem with its key.</summary>
internal static class RoutingOptionsReader
{
    private static readonly string[] RoutingKeys =
    [
        "ReadPolicy", "MaxReplicaLag", "FallbackToPrimary", "MonitorInterval", "RecheckInterval", "CheckTimeout", "OpenRetries",
        "ReadYourWrites", "CircuitBreaker",
    ];

    private static readonly string[] ReadYourWritesKeys = ["Wait"];

    private static readonly string[] CircuitBreakerKeys = ["FailureThreshold", "BreakDuration"];

    public static void ReadReplicas(string database, IConfigurationSection section, IList<string> into, List<ConfigurationProblem> problems)
    {
        var children = section.GetChildren().ToList();
        if (children.Count == 0)
        {
            // "Replicas": "postgresql://db2" is one replica.
            if (!string.IsNullOrWhiteSpace(section.Value))
            {
                into.Add(section.Value);
            }

            return;
        }

        foreach (var child in children)
        {
            if (child.Value is null)
            {
                problems.Add(new(database, "Replicas:" + child.Key, "each replica is a URL or connection string (a string), not an object"));
            }
            else
            {
                into.Add(child.Value);
            }
        }
    }

    public static void Read(string database, IConfigurationSection section, RoutingOptions routing, List<ConfigurationProblem> problems)
    {
        foreach (var child in section.GetChildren())
        {
            var key = "Routing:" + child.Key;
            switch (child.Key.ToLowerInvariant())
            {
                case "readpolicy":
                    if (Enum.TryParse<ReadPolicy>(child.Value, ignoreCase: true, out var policy) && Enum.IsDefined(policy)
                        && !int.TryParse(child.Value, out _))
                    {
                        routing.ReadPolicy = policy;
                    }
                    else
                    {
                        var names = Enum.GetNames<ReadPolicy>();
                        var suggestion = Spelling.Closest(child.Value ?? "", names);
                        problems.Add(new(database, key, suggestion is null
                            ? $"'{child.Value}' is not a read policy ({string.Join(", ", names)})"
                            : $"'{child.Value}' is not a read policy (did you mean '{suggestion}'?)"));
                    }

                    break;
                case "maxreplicalag":
                    routing.MaxReplicaLag = child.Value?.Trim().ToLowerInvariant() is "none" or "off" or "unlimited" or "infinite"
                        ? Timeout.InfiniteTimeSpan
                        : DatabaseOptionsReader.ReadDuration(database, key, child.Value, problems);
                    break;
                case "fallbacktoprimary": routing.FallbackToPrimary = ReadBool(database, key, child.Value, problems); break;
                case "monitorinterval": routing.MonitorInterval = DatabaseOptionsReader.ReadDuration(database, key, child.Value, problems); break;
                case "recheckinterval": routing.RecheckInterval = DatabaseOptionsReader.ReadDuration(database, key, child.Value, problems); break;
                case "checktimeout": routing.CheckTimeout = DatabaseOptionsReader.ReadDuration(database, key, child.Value, problems); break;
                case "openretries": routing.OpenRetries = DatabaseOptionsReader.ReadInt(database, key, child.Value, problems); break;
                case "readyourwrites":
                    foreach (var option in child.GetChildren())
                    {
                        if (option.Key.Equals("Wait", StringComparison.OrdinalIgnoreCase))
                        {
                            routing.ReadYourWrites.Wait = DatabaseOptionsReader.ReadDuration(database, key + ":Wait", option.Value, problems);
                        }
                        else
                        {
                            problems.Add(new(database, key + ":" + option.Key, DatabaseOptionsReader.UnknownKey(option.Key, ReadYourWritesKeys)));
                        }
                    }

                    break;
                case "circuitbreaker":
                    foreach (var option in child.GetChildren())
                    {
                        var optionKey = key + ":" + option.Key;
                        switch (option.Key.ToLowerInvariant())
                        {
                            case "failurethreshold":
                                routing.CircuitBreaker.FailureThreshold = DatabaseOptionsReader.ReadInt(database, optionKey, option.Value, problems);
                                break;
                            case "breakduration":
                                routing.CircuitBreaker.BreakDuration = DatabaseOptionsReader.ReadDuration(database, optionKey, option.Value, problems);
                                break;
                            default:
                                problems.Add(new(database, optionKey, DatabaseOptionsReader.UnknownKey(option.Key, CircuitBreakerKeys)));
                                break;
                        }
                    }

                    break;
                default: problems.Add(new(database, key, DatabaseOptionsReader.UnknownKey(child.Key, RoutingKeys))); break;
            }
        }
    }

    private static bool? ReadBool(string database, string key, string? value, List<ConfigurationProblem> problems)
    {
        if (bool.TryParse(value, out var b))
        {
            return b;
        }

        problems.Add(new(database, key, $"'{value}' is not true or false"));
        return null;
    }
}
