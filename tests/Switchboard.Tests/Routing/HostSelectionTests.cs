using System.Diagnostics;
using Switchboard.Dialects;
using Switchboard.Routing;

namespace Switchboard.Tests.Routing;

/// <summary>
/// The routing decision and the lag measure on hand-built snapshots (hosts configured, never connected), so that every
/// rule can be checked exactly; the PostgreSQL and MariaDB routing tests check the same against real servers.
/// </summary>
public sealed class HostSelectionTests : IDisposable
{
    private static readonly long Second = Stopwatch.Frequency;

    private readonly SwitchboardCatalog _catalog;
    private readonly ReplicaSet _set;
    private readonly Dialect _dialect;

    public HostSelectionTests()
    {
        _catalog = Build(ReadPolicy.RoundRobin);
        _set = _catalog.GetEngine("orders").Replicas!;
        _dialect = _catalog.GetDefinition("orders").Dialect;
    }

    public void Dispose() => _catalog.Dispose();

    private static SwitchboardCatalog Build(ReadPolicy policy) => SwitchboardCatalog.CreateBuilder()
        .AddDatabase("orders", "postgresql://app:pw@127.0.0.1:1/orders", o =>
        {
            o.Replicas = ["127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"];
            o.Routing.ReadPolicy = policy;
            o.Routing.MaxReplicaLag = TimeSpan.FromSeconds(5);
        })
        .Build();

    private ReplicationPosition Lsn(string text) => _dialect.TryParsePosition(text, out var p) ? p : throw new FormatException(text);

    private static HostState Replica(long lagTicks = 0, ReplicationPosition? position = null) =>
        new(HostRole.Replica, true, lagTicks, position, BreakerState.Closed, 0, null, null, null);

    private static TopologySnapshot Snapshot(params HostState[] replicas) =>
        new([new HostState(HostRole.Primary, true, 0, null, BreakerState.Closed, 0, null, null, null), .. replicas], 0, 1, isChecked: true);

    private static HashSet<int> Choices(ReplicaSet set, ReplicationPosition? required = null) =>
        [.. Enumerable.Range(0, 30).Select(_ => set.ChooseReplica(required))];

    [Fact]
    public void Round_robin_uses_every_qualifying_replica_and_skips_the_others()
    {
        _set.Publish(Snapshot(Replica(), Replica(), Replica()));
        Assert.Equal([1, 2, 3], Choices(_set).Order());

        // Beyond the lag limit, unknown lag, unreachable, not a replica: never chosen.
        _set.Publish(Snapshot(Replica(lagTicks: 6 * Second), Replica(lagTicks: -1), Replica() with { Reachable = false }));
        Assert.Equal([-1], Choices(_set));
        _set.Publish(Snapshot(Replica(lagTicks: 6 * Second), Replica() with { Role = HostRole.Primary }, Replica(lagTicks: 4 * Second)));
        Assert.Equal([3], Choices(_set));
    }

    [Fact]
    public void Round_robin_gives_every_replica_an_equal_share_whatever_the_primary_s_place()
    {
        // The primary first, in the middle, last: each of the two replicas gets exactly half of 60 reads.
        foreach (var primaryAt in new[] { 0, 2, 3 })
        {
            var hosts = Enumerable.Range(0, 4).Select(i => i == primaryAt
                ? new HostState(HostRole.Primary, true, 0, null, BreakerState.Closed, 0, null, null, null)
                : Replica()).ToArray();
            hosts[primaryAt == 0 ? 1 : 0] = hosts[primaryAt == 0 ? 1 : 0] with { Role = HostRole.Unknown, Reachable = false };
            _set.Publish(new TopologySnapshot(hosts, primaryAt, 1, isChecked: true));
            var counts = Enumerable.Range(0, 60).Select(_ => _set.ChooseReplica(null)).GroupBy(i => i).ToDictionary(g => g.Key, g => g.Count());
            Assert.Equal(2, counts.Count);
            Assert.All(counts.Values, c => Assert.Equal(30, c));
        }
    }

    [Fact]
    public void Round_robin_shares_the_reads_evenly_among_the_replicas_that_qualify()
    {
        // The middle replica lags: its turns must not all fall to the replica after it.
        _set.Publish(Snapshot(Replica(), Replica(lagTicks: 6 * Second), Replica()));
        var counts = Enumerable.Range(0, 60).Select(_ => _set.ChooseReplica(null)).GroupBy(i => i).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(30, counts[1]);
        Assert.Equal(30, counts[3]);

        // The same when a read-your-writes position rules one out.
        _set.Publish(Snapshot(Replica(position: Lsn("0/3000000")), Replica(position: Lsn("0/1000000")), Replica(position: Lsn("0/3000000"))));
        counts = Enumerable.Range(0, 60).Select(_ => _set.ChooseReplica(Lsn("0/2000000"))).GroupBy(i => i).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(30, counts[1]);
        Assert.Equal(30, counts[3]);
    }

    [Fact]
    public void Of_several_hosts_that_say_they_are_primary_the_last_promoted_is_chosen_and_a_tie_refuses_writes()
    {
        static HostState Primary(long? term) => new(HostRole.Primary, true, 0, null, BreakerState.Closed, 0, null, null, null) { Term = term };

        // A fresh process (no current primary): the old primary, restarted on its old timeline, is listed first.
        Assert.Equal(1, ReplicaSet.ChoosePrimary(-1, [Primary(1), Primary(2), Replica()]));
        Assert.Equal(0, ReplicaSet.ChoosePrimary(-1, [Primary(3), Primary(2), Replica()]));
        Assert.Equal(-1, ReplicaSet.ChoosePrimary(-1, [Primary(2), Primary(2), Replica()]));   // nothing tells them apart
        Assert.Equal(-1, ReplicaSet.ChoosePrimary(-1, [Primary(null), Primary(null)]));        // MariaDB: no term
        Assert.Equal(1, ReplicaSet.ChoosePrimary(-1, [Primary(5) with { Reachable = false }, Primary(null)]));
        Assert.Equal(1, ReplicaSet.ChoosePrimary(-1, [Replica(), Primary(null)]));

        // A running process keeps the primary it writes to while that still says it is primary (a switchover's moment).
        Assert.Equal(0, ReplicaSet.ChoosePrimary(0, [Primary(2), Primary(2)]));
        Assert.Equal(0, ReplicaSet.ChoosePrimary(0, [Primary(null), Primary(null)]));

        // ...but not when another was promoted after it: the current one is then the stale side of a split brain.
        Assert.Equal(1, ReplicaSet.ChoosePrimary(0, [Primary(1), Primary(2)]));
        Assert.Equal(1, ReplicaSet.ChoosePrimary(0, [Replica(), Primary(2)]));
    }

    [Fact]
    public void An_open_circuit_is_skipped_until_its_break_ends_and_a_half_open_one_while_it_is_probed()
    {
        var now = Stopwatch.GetTimestamp();
        _set.Publish(Snapshot(Replica() with { Breaker = BreakerState.Open, BreakerUntil = now + (60 * Second) }, Replica(),
            Replica() with { Breaker = BreakerState.HalfOpen }));
        Assert.Equal([2], Choices(_set));

        _set.Publish(Snapshot(Replica() with { Breaker = BreakerState.Open, BreakerUntil = now - 1 }, Replica() with { Reachable = false },
            Replica() with { Breaker = BreakerState.HalfOpen }));
        Assert.Equal([1], Choices(_set)); // the break is over: this read may probe it
    }

    [Fact]
    public void A_read_your_writes_read_only_uses_replicas_past_its_position()
    {
        _set.Publish(Snapshot(Replica(position: Lsn("0/3000000")), Replica(position: Lsn("0/3000060")), Replica(position: null)));
        Assert.Equal([2], Choices(_set, Lsn("0/3000060")));
        Assert.Equal([1, 2], Choices(_set, Lsn("0/2FFFFFF")).Order());
        Assert.Equal([-1], Choices(_set, Lsn("1/0")));
        Assert.Equal([-1], Choices(_set, ReplicationPosition.Unknown));
    }

    [Fact]
    public void Least_outstanding_and_lowest_lag_pick_the_best_qualifying_replica()
    {
        using (var catalog = Build(ReadPolicy.LeastOutstanding))
        {
            var set = catalog.GetEngine("orders").Replicas!;
            set.Publish(Snapshot(Replica(), Replica(), Replica(lagTicks: 9 * Second)));
            set.Hosts[1].Outstanding = 5;
            set.Hosts[2].Outstanding = 2;
            set.Hosts[3].Outstanding = 0; // fewest, but beyond the lag limit
            Assert.Equal([2], Choices(set));
        }

        using (var catalog = Build(ReadPolicy.LowestLag))
        {
            var set = catalog.GetEngine("orders").Replicas!;
            set.Publish(Snapshot(Replica(lagTicks: 300), Replica(lagTicks: 100), Replica(lagTicks: 200)));
            Assert.Equal([2], Choices(set));
        }
    }

    [Fact]
    public void Lag_is_how_long_ago_the_primary_first_wrote_what_a_replica_has_not_replayed()
    {
        var history = new PositionHistory(64);
        Assert.Equal(0, history.LagOf(Lsn("0/1"), 1000));   // no primary seen yet
        Assert.Equal(-1, history.LagOf(null, 1000));         // no position: unknown

        history.Record(1000, Lsn("0/100"));
        history.Record(2000, Lsn("0/100"));                  // an idle primary: the first time it was seen counts
        Assert.Equal(0, history.LagOf(Lsn("0/100"), 9000));  // caught up with an idle primary: no lag, however long
        Assert.Equal(-1, history.LagOf(Lsn("0/FF"), 9000));  // behind the oldest position seen: for how long, unknown

        history.Record(3000, Lsn("0/200"));
        history.Record(4000, Lsn("0/300"));
        Assert.Equal(6000, history.LagOf(Lsn("0/150"), 9000)); // behind since the primary passed 0/150 (seen at 3000)
        Assert.Equal(4000, history.LagOf(Lsn("0/250"), 8000)); // behind since 0/300 (seen at 4000)
        Assert.Equal(0, history.LagOf(Lsn("0/300"), 9000));

        history.Record(5000, Lsn("0/50"));                   // the log went backwards: start over
        Assert.Equal(0, history.LagOf(Lsn("0/60"), 9000));
        Assert.Equal(-1, history.LagOf(Lsn("0/40"), 9000));
        history.Record(6000, Lsn("0/70"));
        Assert.Equal(3000, history.LagOf(Lsn("0/60"), 9000));
    }
}
