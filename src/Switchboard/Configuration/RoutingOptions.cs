using Switchboard.Dialects;

namespace Switchboard;

/// <summary>How read-only sessions choose among the replicas that qualify.</summary>
public enum ReadPolicy
{
    /// <summary>Each qualifying replica in turn.</summary>
    RoundRobin,

    /// <summary>The qualifying replica with the fewest sessions checked out right now.</summary>
    LeastOutstanding,

    /// <summary>The qualifying replica furthest along the primary's log (lowest measured lag).</summary>
    LowestLag,
}

/// <summary>
/// Routing of a database with several hosts (<c>Replicas</c>, or a multi-host URL), as configured. Unset values take the
/// defaults documented on <see cref="RoutingSettings"/>.
/// </summary>
public sealed class RoutingOptions
{
    /// <summary>How read-only sessions choose a replica. Default <see cref="Switchboard.ReadPolicy.RoundRobin"/>.</summary>
    public ReadPolicy? ReadPolicy { get; set; }

    /// <summary>Replicas further behind than this are not used for reads. Default 5 s; <see cref="Timeout.InfiniteTimeSpan"/> (or "none") for no limit.</summary>
    public TimeSpan? MaxReplicaLag { get; set; }

    /// <summary>Whether reads go to the primary when no replica qualifies. Default true.</summary>
    public bool? FallbackToPrimary { get; set; }

    /// <summary>How often every host's role, position and lag are checked. Default 1 s.</summary>
    public TimeSpan? MonitorInterval { get; set; }

    /// <summary>How often hosts are checked while there is no primary, or just after a session saw a failure. Default 50 ms.</summary>
    public TimeSpan? RecheckInterval { get; set; }

    /// <summary>How long one host check may take before the host counts as unreachable. Default 2 s.</summary>
    public TimeSpan? CheckTimeout { get; set; }

    /// <summary>How many times opening a connection is retried after a transient failure. Default 2.</summary>
    public int? OpenRetries { get; set; }

    public ReadYourWritesOptions ReadYourWrites { get; set; } = new();

    public CircuitBreakerOptions CircuitBreaker { get; set; } = new();
}

/// <summary>Read-your-writes options of a replicated database.</summary>
public sealed class ReadYourWritesOptions
{
    /// <summary>
    /// How long a read that must see an earlier write may wait for a replica to replay it before it goes to the primary.
    /// Default 0: straight to the primary unless the monitor has already seen a replica past the write.
    /// </summary>
    public TimeSpan? Wait { get; set; }
}

/// <summary>The circuit breaker each host has (Polly).</summary>
public sealed class CircuitBreakerOptions
{
    /// <summary>Failed connection attempts, with none succeeding in between, that open a host's circuit. At least 2; default 3.</summary>
    public int? FailureThreshold { get; set; }

    /// <summary>How long an open circuit skips its host before one probe is let through. At least 0.5 s; default 5 s.</summary>
    public TimeSpan? BreakDuration { get; set; }
}

/// <summary>Validated routing settings of a database with several hosts.</summary>
public sealed record RoutingSettings
{
    /// <summary>Default <see cref="ReadPolicy.RoundRobin"/>.</summary>
    public ReadPolicy ReadPolicy { get; init; } = ReadPolicy.RoundRobin;

    /// <summary>Default 5 s; null for no limit.</summary>
    public TimeSpan? MaxReplicaLag { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Default true.</summary>
    public bool FallbackToPrimary { get; init; } = true;

    /// <summary>Default 1 s.</summary>
    public TimeSpan MonitorInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Default 50 ms.</summary>
    public TimeSpan RecheckInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Default 2 s.</summary>
    public TimeSpan CheckTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Default 2.</summary>
    public int OpenRetries { get; init; } = 2;

    /// <summary>Default zero.</summary>
    public TimeSpan ReadYourWritesWait { get; init; } = TimeSpan.Zero;

    /// <summary>Default 3.</summary>
    public int FailureThreshold { get; init; } = 3;

    /// <summary>Default 5 s.</summary>
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Every host, in configuration order: the URL's hosts first, then each replica entry's.</summary>
    public IReadOnlyList<HostDefinition> Hosts { get; init; } = [];
}

/// <summary>One host of a replicated database.</summary>
public sealed class HostDefinition
{
    internal HostDefinition(ConnectionSettings connection, HostRole configuredRole)
    {
        Connection = connection;
        ConfiguredRole = configuredRole;
    }

    /// <summary>Where the host is, without credentials: <c>db2:5432/orders</c>.</summary>
    public string Target => Connection.Target;

    /// <summary>
    /// The role the configuration suggests: <see cref="HostRole.Replica"/> for a <c>Replicas</c> entry, otherwise
    /// <see cref="HostRole.Unknown"/>. Only a first guess: routing follows what the server itself reports.
    /// </summary>
    public HostRole ConfiguredRole { get; }

    internal ConnectionSettings Connection { get; }

    public override string ToString() => Target;
}
