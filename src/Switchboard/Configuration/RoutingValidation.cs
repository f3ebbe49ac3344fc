using Switchboard.Dialects;

namespace Switchboard;

/// <summary>
/// Validates a database's routing options and expands its hosts (a multi-host URL, then each <c>Replicas</c> entry) into
/// single-host settings built by the dialect. Every problem is reported, each with its key.
/// </summary>
internal static class RoutingValidation
{
    /// <summary>More hosts than this per database would not fit routing's bit masks; no real topology comes close.</summary>
    public const int MaxHosts = 64;

    /// <summary>Checks the routing options; null (and problems) when one is invalid.</summary>
    public static RoutingSettings? ValidateOptions(string name, DatabaseOptions options, List<ConfigurationProblem> problems)
    {
        var before = problems.Count;
        void Problem(string key, string message) => problems.Add(new(name, "Routing:" + key, message));

        var o = options.Routing ?? new RoutingOptions();
        var d = new RoutingSettings();
        var maxLag = o.MaxReplicaLag ?? d.MaxReplicaLag;
        if (maxLag == Timeout.InfiniteTimeSpan)
        {
            maxLag = null;
        }
        else if (maxLag < TimeSpan.Zero)
        {
            Problem("MaxReplicaLag", "must not be negative (write \"none\" for no limit)");
        }

        var settings = new RoutingSettings
        {
            ReadPolicy = o.ReadPolicy ?? d.ReadPolicy,
            MaxReplicaLag = maxLag,
            FallbackToPrimary = o.FallbackToPrimary ?? d.FallbackToPrimary,
            MonitorInterval = o.MonitorInterval ?? d.MonitorInterval,
            RecheckInterval = o.RecheckInterval ?? Min(d.RecheckInterval, o.MonitorInterval ?? d.MonitorInterval),
            CheckTimeout = o.CheckTimeout ?? d.CheckTimeout,
            OpenRetries = o.OpenRetries ?? d.OpenRetries,
            ReadYourWritesWait = o.ReadYourWrites?.Wait ?? d.ReadYourWritesWait,
            FailureThreshold = o.CircuitBreaker?.FailureThreshold ?? d.FailureThreshold,
            BreakDuration = o.CircuitBreaker?.BreakDuration ?? d.BreakDuration,
        };

        if (!Enum.IsDefined(settings.ReadPolicy))
        {
            Problem("ReadPolicy", $"'{settings.ReadPolicy}' is not a read policy ({string.Join(", ", Enum.GetNames<ReadPolicy>())})");
        }

        if (settings.MonitorInterval < TimeSpan.FromMilliseconds(10) || settings.MonitorInterval > TimeSpan.FromHours(1))
        {
            Problem("MonitorInterval", $"must be between 10ms and 1h (is {Show(settings.MonitorInterval)})");
        }

        if (settings.RecheckInterval < TimeSpan.FromMilliseconds(10) || settings.RecheckInterval > settings.MonitorInterval)
        {
            Problem("RecheckInterval", $"must be between 10ms and Routing:MonitorInterval ({Show(settings.MonitorInterval)}), is {Show(settings.RecheckInterval)}");
        }

        if (settings.CheckTimeout < TimeSpan.FromMilliseconds(100))
        {
            Problem("CheckTimeout", $"must be at least 100ms (is {Show(settings.CheckTimeout)})");
        }

        if (settings.OpenRetries is < 0 or > 10)
        {
            Problem("OpenRetries", $"must be between 0 and 10 (is {settings.OpenRetries})");
        }

        if (settings.ReadYourWritesWait < TimeSpan.Zero || settings.ReadYourWritesWait > TimeSpan.FromMinutes(1))
        {
            Problem("ReadYourWrites:Wait", $"must be between 0 and 1m (is {Show(settings.ReadYourWritesWait)})");
        }

        // Polly's own limits: a breaker needs at least two attempts to judge, and breaks for longer than half a second.
        if (settings.FailureThreshold < 2)
        {
            Problem("CircuitBreaker:FailureThreshold", $"must be at least 2 (is {settings.FailureThreshold})");
        }

        if (settings.BreakDuration <= TimeSpan.FromMilliseconds(500) || settings.BreakDuration > TimeSpan.FromHours(1))
        {
            Problem("CircuitBreaker:BreakDuration", $"must be more than 500ms and at most 1h (is {Show(settings.BreakDuration)})");
        }

        return problems.Count > before ? null : settings;
    }

    /// <summary>
    /// The database's hosts, or null when it has only one and no routing was asked for (then nothing changes for it).
    /// </summary>
    public static IReadOnlyList<HostDefinition>? ResolveHosts(string name, DatabaseOptions options, Dialect dialect, ConnectionSettings settings,
        Func<string, string?> environment, List<ConfigurationProblem> problems)
    {
        var replicas = options.Replicas ?? [];
        var routingAsked = replicas.Count > 0 || settings.Hosts.Count > 1 || IsSet(options.Routing);
        if (!routingAsked)
        {
            return null;
        }

        if (!dialect.SupportsReplication)
        {
            problems.Add(new(name, replicas.Count > 0 ? "Replicas" : "Url",
                $"the {dialect.Name} dialect has no replicas or multi-host routing"));
            return null;
        }

        var before = problems.Count;
        var hosts = new List<HostDefinition>();
        var own = new List<string>();
        foreach (var host in dialect.CreateHostSettings(settings, null, own))
        {
            hosts.Add(new HostDefinition(host, HostRole.Unknown));
        }

        foreach (var message in own)
        {
            problems.Add(new(name, "Url", message));
        }

        for (var i = 0; i < replicas.Count; i++)
        {
            var key = $"Replicas:{i}";
            var entry = ParseEntry(name, key, replicas[i], dialect, environment, problems);
            if (entry is null)
            {
                continue;
            }

            var messages = new List<string>();
            IReadOnlyList<ConnectionSettings> created;
            try
            {
                created = dialect.CreateHostSettings(settings, entry, messages);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or KeyNotFoundException)
            {
                // Driver builders reject bad keys with messages that may echo a value: keep only secret-free text.
                messages.Add(SecretMasker.Scrub(e.Message, [.. settings.Secrets, .. EntrySecrets(entry)]));
                created = [];
            }

            foreach (var message in messages)
            {
                problems.Add(new(name, key, message));
            }

            hosts.AddRange(created.Select(c => new HostDefinition(c, HostRole.Replica)));
        }

        foreach (var duplicate in hosts.GroupBy(h => HostKey(h.Connection), StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
        {
            problems.Add(new(name, "Replicas", $"host {duplicate.First().Target} is listed {duplicate.Count()} times"));
        }

        if (hosts.Count > MaxHosts)
        {
            problems.Add(new(name, "Replicas", $"at most {MaxHosts} hosts per database (has {hosts.Count})"));
        }

        return problems.Count > before ? null : hosts;
    }

    /// <summary>
    /// The replica entries' own problems (syntax, kind, port, environment variables), for a database whose primary settings
    /// are themselves invalid: resolving the hosts needs those settings, but every problem is still reported at once.
    /// </summary>
    public static void CheckReplicaEntries(string name, DatabaseOptions options, Dialect dialect, Func<string, string?> environment,
        List<ConfigurationProblem> problems)
    {
        var replicas = options.Replicas ?? [];
        for (var i = 0; i < replicas.Count; i++)
        {
            ParseEntry(name, $"Replicas:{i}", replicas[i], dialect, environment, problems);
        }
    }

    private static ReplicaEntry? ParseEntry(string name, string key, string text, Dialect dialect, Func<string, string?> environment,
        List<ConfigurationProblem> problems)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            problems.Add(new(name, key, "is empty (give a URL such as postgresql://db2:5432, or a connection string)"));
            return null;
        }

        var missing = new List<string>();
        var isUrl = text.Contains("://", StringComparison.Ordinal);
        var looksLikeConnectionString = !isUrl && text.Contains('=', StringComparison.Ordinal);
        if (!isUrl && !looksLikeConnectionString)
        {
            // A bare "db2:5433" is a host of the same dialect with everything else inherited.
            text = dialect.Name + "://" + text.Trim();
            isUrl = true;
        }

        var expanded = EnvironmentReferences.Expand(text, environment, missing, percentEncode: isUrl)!;
        foreach (var variable in missing.Distinct())
        {
            problems.Add(new(name, key, $"environment variable '{variable}' referenced as ${{{variable}}} is not set"));
        }

        if (missing.Count > 0)
        {
            return null;
        }

        if (!isUrl)
        {
            return new ReplicaEntry(null, expanded);
        }

        if (!DatabaseUrl.TryParse(expanded, out var url, out var error))
        {
            problems.Add(new(name, key, error!.Message));
            return null;
        }

        if (!dialect.Aliases.Contains(url!.Backend, StringComparer.OrdinalIgnoreCase))
        {
            problems.Add(new(name, key, $"a replica must be of the database's own kind ({dialect.Name}), not '{url.Backend}'"));
            return null;
        }

        return new ReplicaEntry(url, null);
    }

    private static IEnumerable<string> EntrySecrets(ReplicaEntry entry) =>
        entry.Url?.Password is { } password ? [password] : [];

    private static string HostKey(ConnectionSettings settings) =>
        string.Join(',', settings.Hosts) + "/" + settings.Database;

    private static bool IsSet(RoutingOptions? o) =>
        o is not null && (o.ReadPolicy ?? (object?)o.MaxReplicaLag ?? o.FallbackToPrimary ?? o.MonitorInterval ?? o.RecheckInterval
            ?? o.CheckTimeout ?? o.OpenRetries ?? o.ReadYourWrites?.Wait ?? o.CircuitBreaker?.FailureThreshold
            ?? (object?)o.CircuitBreaker?.BreakDuration) is not null;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static string Show(TimeSpan value) =>
        value.TotalMilliseconds < 1000 ? $"{value.TotalMilliseconds:0.###}ms" : $"{value.TotalSeconds:0.###}s";
}
