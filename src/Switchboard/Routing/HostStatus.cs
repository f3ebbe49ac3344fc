namespace Switchboard;

/// <summary>The role of one host of a replicated database.</summary>
public enum HostRole
{
    /// <summary>Not known: the host has not answered yet, or is unreachable.</summary>
    Unknown,

    /// <summary>Accepts writes.</summary>
    Primary,

    /// <summary>Replays the primary's log and serves reads only.</summary>
    Replica,
}

/// <summary>The state of a host's circuit breaker.</summary>
public enum BreakerState
{
    /// <summary>Connections are attempted normally.</summary>
    Closed,

    /// <summary>Too many connection attempts failed: the host is skipped until the break ends.</summary>
    Open,

    /// <summary>The break has ended: one connection attempt is probing the host.</summary>
    HalfOpen,
}

/// <summary>What Switchboard knows about one host of a replicated database right now (see <see cref="DatabaseEngine.GetHostStatuses"/>).</summary>
/// <param name="Target">Where the host is, without credentials.</param>
/// <param name="Role">The role the server reported at the last check (<see cref="HostRole.Unknown"/> when unreachable).</param>
/// <param name="IsPrimary">Whether read-write sessions go to this host now.</param>
/// <param name="IsReachable">Whether the last check reached the host.</param>
/// <param name="Lag">For a replica: how long ago the primary first wrote something this replica has not replayed yet (zero when caught up); null when unknown.</param>
/// <param name="Position">The host's log position at the last check (written by a primary, replayed by a replica).</param>
/// <param name="Breaker">The circuit breaker's state.</param>
/// <param name="BreakerRetryAfter">While the circuit is open: how long until a probe is let through.</param>
/// <param name="InUse">Sessions and connections checked out from this host right now.</param>
/// <param name="PoolClears">How often the host's pool was purged because its role or reachability changed.</param>
/// <param name="LastChecked">When the monitor last finished checking this host.</param>
/// <param name="Latency">How long the last check took.</param>
/// <param name="Error">Why the last check failed (no secrets), or a remark such as "replay paused".</param>
public sealed record HostStatus(
    string Target,
    HostRole Role,
    bool IsPrimary,
    bool IsReachable,
    TimeSpan? Lag,
    string? Position,
    BreakerState Breaker,
    TimeSpan? BreakerRetryAfter,
    int InUse,
    long PoolClears,
    DateTimeOffset? LastChecked,
    TimeSpan? Latency,
    string? Error)
{
    public override string ToString() =>
        $"{Target}: {(IsReachable ? Role.ToString().ToLowerInvariant() : "unreachable")}"
        + (Lag is { } lag ? $", lag {lag.TotalMilliseconds:0} ms" : "")
        + (Breaker == BreakerState.Closed ? "" : $", breaker {Breaker.ToString().ToLowerInvariant()}")
        + (Error is null ? "" : $" ({Error})");
}
