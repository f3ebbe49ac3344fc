using BenchmarkDotNet.Attributes;
using Switchboard.Dialects;
using Switchboard.Routing;

namespace Switchboard.Benchmarks;

/// <summary>
/// The cost of one routing decision for a read-only session: read the current topology snapshot (a volatile reference),
/// take the time, and pick a replica under the read policy, lag limit and (for read-your-writes) log position. No server
/// is involved: the hosts are configured but never connected, and the snapshot is built by hand.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[MinColumn]
[SimpleJob(warmupCount: 3, iterationCount: 15)]
public class RoutingBenchmarks
{
    private SwitchboardCatalog _catalog = null!;
    private ReplicaSet _set = null!;
    private ReplicationPosition _required = null!;

    [Params(ReadPolicy.RoundRobin, ReadPolicy.LeastOutstanding, ReadPolicy.LowestLag)]
    public ReadPolicy Policy { get; set; }

    [Params(2, 8)]
    public int Replicas { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", "postgresql://app:pw@127.0.0.1:1/orders", o =>
            {
                o.Replicas = [.. Enumerable.Range(0, Replicas).Select(i => $"127.0.0.1:{i + 2}")];
                o.Routing.ReadPolicy = Policy;
                o.Routing.MaxReplicaLag = TimeSpan.FromSeconds(5);
            })
            .Build();
        _set = _catalog.GetEngine("orders").Replicas!;
        var dialect = _catalog.GetDefinition("orders").Dialect;
        ReplicationPosition Lsn(string text) => dialect.TryParsePosition(text, out var p) ? p : throw new InvalidOperationException(text);

        // A primary, and replicas with various lags and positions; one replica is beyond the lag limit.
        var hosts = new HostState[Replicas + 1];
        hosts[0] = new HostState(HostRole.Primary, true, 0, Lsn("0/5000000"), BreakerState.Closed, 0, null, null, null);
        for (var i = 1; i <= Replicas; i++)
        {
            var lagTicks = i == 1 ? TimeSpan.FromSeconds(30).Ticks * (System.Diagnostics.Stopwatch.Frequency / TimeSpan.TicksPerSecond) : i * 1000L;
            hosts[i] = new HostState(HostRole.Replica, true, lagTicks, Lsn($"0/{0x4FFFF00 + (i * 0x10):X}"), BreakerState.Closed, 0, null, null, null);
        }

        _set.Publish(new TopologySnapshot(hosts, 0, 1, isChecked: true));
        _required = Lsn("0/4FFFF10");
    }

    [GlobalCleanup]
    public void Cleanup() => _catalog.Dispose();

    [Benchmark(Baseline = true, Description = "Route a read")]
    public int Read() => _set.ChooseReplica(null);

    [Benchmark(Description = "Route a read-your-writes read")]
    public int ReadYourWrites() => _set.ChooseReplica(_required);
}
