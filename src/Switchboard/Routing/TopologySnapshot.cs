using System.Diagnostics;
using System.Numerics;
using Switchboard.Dialects;

namespace Switchboard.Routing;

/// <summary>
/// What was known about every host of a replicated database at one moment. Immutable: the monitor (and the circuit
/// breakers) publish a new snapshot through a volatile reference, and routing reads whichever is current without a lock.
/// </summary>
internal sealed class TopologySnapshot(HostState[] hosts, int primary, long generation, bool isChecked)
{
    /// <summary>One state per host, in configuration order (the same order as the replica set's endpoints).</summary>
    public HostState[] Hosts { get; } = hosts;

    /// <summary>Whether any circuit is not closed: only then does a routing decision need the clock.</summary>
    public bool AnyBreakerOpen { get; } = hosts.Any(h => h.Breaker != BreakerState.Closed);

    /// <summary>The indexes of the hosts that report themselves replicas: where round-robin takes its turns.</summary>
    public int[] Replicas { get; } = [.. hosts.Select((h, i) => (h, i)).Where(x => x.h.Role == HostRole.Replica).Select(x => x.i)];

    /// <summary>The index of the host read-write sessions go to, or -1 when there is none.</summary>
    public int Primary { get; } = primary;

    /// <summary>Increases with every snapshot published.</summary>
    public long Generation { get; } = generation;

    /// <summary>False for the snapshot built from configuration alone, before the first check.</summary>
    public bool IsChecked { get; } = isChecked;

    public TopologySnapshot WithHost(int index, HostState state)
    {
        var hosts = (HostState[])Hosts.Clone();
        hosts[index] = state;
        return new TopologySnapshot(hosts, Primary, Generation + 1, IsChecked);
    }
}

/// <summary>One host as the last check (and its circuit breaker) saw it.</summary>
/// <param name="Role">The role the server reported; <see cref="HostRole.Unknown"/> while unreachable.</param>
/// <param name="Reachable">Whether the last check reached the host.</param>
/// <param name="LagTicks">Replication lag in <see cref="System.Diagnostics.Stopwatch"/> ticks; -1 when unknown; 0 for the primary.</param>
/// <param name="Position">The last log position the host reported.</param>
/// <param name="Breaker">The circuit breaker's state.</param>
/// <param name="BreakerUntil">While open: the <see cref="System.Diagnostics.Stopwatch"/> timestamp at which a probe may go through.</param>
/// <param name="LastChecked">When the last check ended.</param>
/// <param name="Latency">How long the last check took.</param>
/// <param name="Error">Why the last check failed, or the dialect's remark about the host.</param>
internal sealed record HostState(
    HostRole Role,
    bool Reachable,
    long LagTicks,
    ReplicationPosition? Position,
    BreakerState Breaker,
    long BreakerUntil,
    DateTimeOffset? LastChecked,
    TimeSpan? Latency,
    string? Error)
{
    /// <summary>Whether the host answered the last check and said it takes writes.</summary>
    public bool ReportsPrimary => Reachable && Role == HostRole.Primary;

    /// <summary>A primary's promotion count as its server reports it (<see cref="ReplicationProbe.Term"/>), or null.</summary>
    public long? Term { get; init; }

    /// <summary>Before the first check: the configured guess, trusted only until the servers answer.</summary>
    public static HostState Initial(HostRole role) => new(role, true, -1, null, BreakerState.Closed, 0, null, null, null);
}

/// <summary>The routing decision itself: allocation-free and lock-free over one snapshot.</summary>
internal static class HostSelector
{
    /// <summary>
    /// The replica a read-only session should use, or -1 when none qualifies: a replica, reachable, not excluded,
    /// its circuit closed (or its break over, so this session may probe it), within <paramref name="maxLagTicks"/>, and
    /// past <paramref name="required"/> when given. Ties and round-robin start from a shared cursor.
    /// </summary>
    public static int SelectReplica(TopologySnapshot snapshot, HostEndpoint[] endpoints, ReadPolicy policy, long maxLagTicks,
        ReplicationPosition? required, ref int cursor, ulong excluded)
    {
        var hosts = snapshot.Hosts;
        var replicas = snapshot.Replicas;
        if (replicas.Length == 0)
        {
            return -1;
        }

        // A plain increment: two sessions racing may take the same turn, which costs nothing but evenness.
        var turn = unchecked(++cursor);
        var now = snapshot.AnyBreakerOpen ? Stopwatch.GetTimestamp() : 0;
        if (policy == ReadPolicy.RoundRobin)
        {
            // The turns go over the replicas that qualify now: a turn that fell through from one that does not (lagging,
            // broken, excluded) to the next would give that one a double share. At most 64 hosts, so one word holds them.
            var qualifying = 0UL;
            var count = 0;
            foreach (var r in replicas)
            {
                if (Qualifies(hosts[r], r, maxLagTicks, excluded, now) && Covers(hosts[r], required))
                {
                    qualifying |= 1UL << r;
                    count++;
                }
            }

            if (count == 0)
            {
                return -1;
            }

            for (var skip = (int)((uint)turn % (uint)count); skip > 0; skip--)
            {
                qualifying &= qualifying - 1;
            }

            return BitOperations.TrailingZeroCount(qualifying);
        }

        // The best score wins; ties go to the first from a turning start, so that equal replicas share the reads.
        var best = -1;
        var bestScore = long.MaxValue;
        var first = (int)((uint)turn % (uint)replicas.Length);
        for (var k = 0; k < replicas.Length; k++)
        {
            var i = replicas[(first + k) % replicas.Length];
            var h = hosts[i];
            if (!Qualifies(h, i, maxLagTicks, excluded, now))
            {
                continue;
            }

            var score = policy == ReadPolicy.LeastOutstanding ? Volatile.Read(ref endpoints[i].Outstanding) : h.LagTicks;

            // The position check (a virtual call) last, and only for a host that would win.
            if (score < bestScore && Covers(h, required))
            {
                best = i;
                bestScore = score;
            }
        }

        return best;
    }

    // A replica, reachable, not excluded, its lag known and within the limit, its circuit closed or its break over.
    private static bool Qualifies(HostState h, int index, long maxLagTicks, ulong excluded, long now) =>
        h.Role == HostRole.Replica && h.Reachable && h.LagTicks >= 0 && h.LagTicks <= maxLagTicks && (excluded & (1UL << index)) == 0
        && BreakerAllows(h, now);

    private static bool Covers(HostState h, ReplicationPosition? required) =>
        required is null || (h.Position is not null && h.Position.Covers(required));

    /// <summary>Whether a host's circuit lets a connection attempt through now.</summary>
    public static bool BreakerAllows(HostState h, long now) =>
        h.Breaker == BreakerState.Closed || (h.Breaker == BreakerState.Open && now >= h.BreakerUntil);
}

/// <summary>
/// The primary's log positions with the time each was first seen, so that a replica's lag is "how long ago the primary
/// first wrote something this replica has not replayed". Needs no clock agreement between servers, reads zero for a
/// caught-up replica of an idle primary, and keeps growing for a replica that stopped following (after a failover).
/// Its resolution is the monitor interval. Used under the replica set's publish lock.
/// </summary>
internal sealed class PositionHistory(int capacity)
{
    private readonly (long At, ReplicationPosition Position)[] _ring = new (long, ReplicationPosition)[capacity];
    private int _count;
    private int _next;

    public void Record(long at, ReplicationPosition position)
    {
        if (_count > 0)
        {
            var latest = _ring[(_next - 1 + _ring.Length) % _ring.Length].Position;
            if (!position.Covers(latest))
            {
                _count = 0; // the log went backwards (a restored or different server): start over
            }
            else if (latest.Covers(position))
            {
                return; // unchanged: keep the time the primary first reached it
            }
        }

        _ring[_next] = (at, position);
        _next = (_next + 1) % _ring.Length;
        _count = Math.Min(_count + 1, _ring.Length);
    }

    /// <summary>
    /// Lag in Stopwatch ticks; -1 (unknown, so not used for reads) without a position, or when the replica has not even
    /// replayed the oldest position remembered: it may have been behind for longer than the monitor has been watching
    /// (just after start-up, a replica paused an hour ago must not look one interval behind).
    /// </summary>
    public long LagOf(ReplicationPosition? position, long now)
    {
        if (position is null)
        {
            return -1;
        }

        var oldest = (_next - _count + _ring.Length) % _ring.Length;
        for (var k = 0; k < _count; k++)
        {
            var (at, sample) = _ring[(oldest + k) % _ring.Length];
            if (!position.Covers(sample))
            {
                return k == 0 ? -1 : Math.Max(0, now - at);
            }
        }

        return 0;
    }
}
