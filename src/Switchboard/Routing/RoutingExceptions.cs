namespace Switchboard;

/// <summary>
/// A read-write session (or a read that must use the primary) found no primary: it is down, not yet promoted, or its
/// circuit breaker is open. Raised at once instead of waiting; the monitor keeps checking the hosts every
/// <c>Routing:RecheckInterval</c> and sessions go to a new primary as soon as one is seen, with no restart.
/// </summary>
public sealed class NoPrimaryException : SwitchboardException
{
    internal NoPrimaryException(string databaseName, IReadOnlyList<HostStatus> hosts, string? reason = null)
        : base($"Database '{databaseName}' has no primary right now{(reason is null ? "" : " (" + reason + ")")}: {Describe(hosts)}. "
            + "Read-write sessions fail at once until a primary is seen again.", databaseName, null, null)
    {
        Hosts = hosts;
    }

    /// <summary>Every host as the last check saw it.</summary>
    public IReadOnlyList<HostStatus> Hosts { get; }

    public override bool IsTransient => true;

    internal static string Describe(IReadOnlyList<HostStatus> hosts) => string.Join("; ", hosts.Select(h => h.ToString()));
}

/// <summary>
/// A read-only session found no replica that qualifies (reachable, within <c>Routing:MaxReplicaLag</c>, circuit closed,
/// and past the session's read-your-writes position) while <c>Routing:FallbackToPrimary</c> is off, or no host at all.
/// </summary>
public sealed class NoReplicaException : SwitchboardException
{
    internal NoReplicaException(string databaseName, IReadOnlyList<HostStatus> hosts, string reason)
        : base($"Database '{databaseName}' has no host to read from ({reason}): {NoPrimaryException.Describe(hosts)}.", databaseName, null, null)
    {
        Hosts = hosts;
    }

    public IReadOnlyList<HostStatus> Hosts { get; }

    public override bool IsTransient => true;
}

/// <summary>No router had an opinion, the entity type is not bound, and there is no default database.</summary>
public sealed class NoRouteException : SwitchboardException
{
    internal NoRouteException(string what, int routers, IReadOnlyList<string> configured)
        : base($"No database for {what}: {routers} router{(routers == 1 ? "" : "s")} gave no opinion, no bind matches, and no default database is set "
            + $"(SwitchboardCatalogBuilder.UseDefaultDatabase). Configured: {string.Join(", ", configured)}.", null, null, null)
    {
    }
}
