using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Npgsql;

namespace Switchboard.Benchmarks;

/// <summary>
/// Measured failover timings (wall clock, not BenchmarkDotNet): on a fresh streaming-replication cluster per run
/// (tests/rig/pg-replicas.sh: primary, synchronous standby s1, asynchronous standby s2), with Switchboard's default
/// routing settings, under a write load of four writers and two readers:
/// <list type="bullet">
/// <item>primary killed (SIGQUIT, PostgreSQL's immediate shutdown) → first read served by a replica that started after
/// the kill; and → first read-your-writes read served (these follow a writer's commits, so they were on the primary: a
/// replica may serve them once it has replayed the writer's last position, otherwise the promoted standby does);</item>
/// <item>primary killed → first read-write session refused with NoPrimaryException (fail fast);</item>
/// <item><c>pg_ctl promote</c> of s1 (from the moment the command is issued, and from the moment the standby itself
/// reports it is out of recovery, polled every millisecond) → first successful write through Switchboard;</item>
/// <item>acknowledged writes missing on the new primary (must be 0 with synchronous replication).</item>
/// </list>
/// Run: <c>dotnet run -c Release --project bench/Switchboard.Benchmarks -- failover [runs]</c> (as root: it starts servers).
/// </summary>
internal static class FailoverHarness
{
    private const int Writers = 4;

    private static readonly bool[] ReaderKinds = [false, true];

    public static async Task<int> RunAsync(string[] args)
    {
        var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var results = new List<RunResult>();
        for (var run = 1; run <= runs; run++)
        {
            var result = await RunOnceAsync();
            results.Add(result);
            Console.WriteLine($"run {run}: {result}");
        }

        Console.WriteLine();
        Console.WriteLine($"median of {runs} runs (ms):");
        Console.WriteLine($"  kill -> read served by a replica (plain reads):        {Median(results, r => r.KillToPlainReadMs):0.0}");
        Console.WriteLine($"  kill -> read-your-writes read served (any host):       {Median(results, r => r.KillToRywReadMs):0.0}"
            + $"  (by a replica before the promotion in {results.Count(r => r.RywServedByReplica)} of {runs} runs)");
        Console.WriteLine($"  kill -> write refused with NoPrimaryException:         {Median(results, r => r.KillToFailFastMs):0.0}");
        Console.WriteLine($"  promote issued -> first successful write:              {Median(results, r => r.PromoteIssuedToWriteMs):0.0}");
        Console.WriteLine($"  standby writable -> first successful write:            {Median(results, r => r.PromoteReturnedToWriteMs):0.0}");
        Console.WriteLine($"  longest gap between successful plain reads:            {Median(results, r => r.LongestReadGapMs):0.0}");
        Console.WriteLine($"    the same before the kill (for comparison):           {Median(results, r => r.LongestReadGapBeforeMs):0.0}");
        Console.WriteLine($"    median read-only session before the kill:            {Median(results, r => r.MedianReadMs):0.0}");
        Console.WriteLine($"machine load average at the end: {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine($"acknowledged writes: {results.Sum(r => r.Acknowledged)}, lost: {results.Sum(r => r.Lost)}");
        return results.Sum(r => r.Lost) == 0 ? 0 : 1;
    }

    private static double Median(List<RunResult> results, Func<RunResult, double> value)
    {
        var sorted = results.Select(value).Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static async Task<RunResult> RunOnceAsync()
    {
        await using var cluster = await Cluster.StartAsync();
        await cluster.ExecuteAsync(0, "CREATE TABLE items (id bigint PRIMARY KEY, writer int)");
        await Task.Delay(200);

        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", cluster.Url, o => o.Replicas = [$"127.0.0.1:{cluster.Ports[1]}", $"127.0.0.1:{cluster.Ports[2]}"])
            .Build();
        await catalog.GetEngine("orders").RefreshTopologyAsync();

        var clock = Stopwatch.StartNew();
        var acknowledged = new ConcurrentBag<long>();
        var firstWriteAfter = new long[1] { long.MaxValue };
        var firstFailFast = new long[1] { long.MaxValue };
        var promoteIssued = long.MaxValue;
        var killedAt = long.MaxValue;
        var ryw = new ReadYourWritesContext();
        using var stop = new CancellationTokenSource();

        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (long n = 0; !stop.IsCancellationRequested; n++)
            {
                var id = (n * Writers) + w;
                var started = clock.ElapsedTicks;
                try
                {
                    await using var session = catalog.OpenSession("orders", new SessionOptions { ReadYourWrites = w == 0 ? ryw : null });
                    await session.ExecuteAsync("INSERT INTO items VALUES (@id, @w)", new { id, w });
                    await session.CommitAsync();
                    acknowledged.Add(id);
                    if (started > Volatile.Read(ref promoteIssued))
                    {
                        Min(firstWriteAfter, clock.ElapsedTicks);
                    }
                }
                catch (NoPrimaryException)
                {
                    if (started > Volatile.Read(ref killedAt))
                    {
                        Min(firstFailFast, clock.ElapsedTicks);
                    }

                    await Task.Delay(1);
                }
                catch (SwitchboardException)
                {
                    await Task.Delay(1);
                }
            }
        })).ToList();

        var firstPlainRead = new long[1] { long.MaxValue };
        var firstRywRead = new long[1] { long.MaxValue };
        var rywReplicaPort = 0;
        var longestGap = 0L;
        var longestGapBefore = 0L;
        var readLatencies = new ConcurrentBag<long>();
        var readers = ReaderKinds.Select(readYourWrites => Task.Run(async () =>
        {
            var lastSuccess = clock.ElapsedTicks;
            while (!stop.IsCancellationRequested)
            {
                var started = clock.ElapsedTicks;
                try
                {
                    await using var session = catalog.OpenSession("orders",
                        new SessionOptions { Intent = SessionIntent.ReadOnly, ReadYourWrites = readYourWrites ? ryw : null });
                    var port = await session.ExecuteScalarAsync<int>("SELECT inet_server_port()");
                    await session.CommitAsync();
                    var now = clock.ElapsedTicks;
                    if (!readYourWrites)
                    {
                        if (started > Volatile.Read(ref killedAt))
                        {
                            longestGap = Math.Max(longestGap, now - lastSuccess);
                        }
                        else
                        {
                            longestGapBefore = Math.Max(longestGapBefore, now - lastSuccess);
                            readLatencies.Add(now - started);
                        }

                        lastSuccess = now;
                    }

                    if (started > Volatile.Read(ref killedAt) && port != cluster.Ports[0])
                    {
                        Min(readYourWrites ? firstRywRead : firstPlainRead, now);
                        if (readYourWrites && Volatile.Read(ref rywReplicaPort) == 0)
                        {
                            // Before the promotion only a replica that has replayed the position can serve it.
                            Volatile.Write(ref rywReplicaPort, started < Volatile.Read(ref promoteIssued) ? port : -1);
                        }
                    }
                }
                catch (SwitchboardException)
                {
                    await Task.Delay(1);
                }
            }
        })).ToList();

        await Task.Delay(1500);
        Volatile.Write(ref killedAt, clock.ElapsedTicks);
        cluster.KillPrimary();
        await WaitAsync(() => Volatile.Read(ref firstFailFast[0]) != long.MaxValue && Volatile.Read(ref firstPlainRead[0]) != long.MaxValue,
            () => $"fail-fast {firstFailFast[0] != long.MaxValue}, read {firstPlainRead[0] != long.MaxValue}; "
                + string.Join("; ", catalog.GetEngine("orders").GetHostStatuses()));
        await Task.Delay(300);

        // The moment the standby accepts writes, seen by polling it directly (pg_ctl promote -w itself polls every 100 ms).
        await using var probe = await cluster.OpenAsync(1);
        Volatile.Write(ref promoteIssued, clock.ElapsedTicks);
        var promotion = cluster.PromoteAsync(1);
        await using (var inRecovery = new NpgsqlCommand("SELECT pg_is_in_recovery()", probe))
        {
            while ((bool)(await inRecovery.ExecuteScalarAsync())!)
            {
                await Task.Delay(1);
            }
        }

        var promoteReturned = clock.ElapsedTicks;
        await promotion;
        await WaitAsync(() => Volatile.Read(ref firstWriteAfter[0]) != long.MaxValue && Volatile.Read(ref firstRywRead[0]) != long.MaxValue,
            () => string.Join("; ", catalog.GetEngine("orders").GetHostStatuses()));
        await Task.Delay(500);
        await stop.CancelAsync();
        await Task.WhenAll(writers.Concat(readers));

        var ids = acknowledged.ToArray();
        var present = await cluster.CountAsync(1, ids);
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        return new RunResult(
            Ms(firstPlainRead[0] - killedAt),
            Ms(firstRywRead[0] - killedAt),
            rywReplicaPort > 0,
            Ms(firstFailFast[0] - killedAt),
            Ms(firstWriteAfter[0] - promoteIssued),
            Ms(firstWriteAfter[0] - promoteReturned),
            Ms(longestGap),
            Ms(longestGapBefore),
            Ms(readLatencies.Order().ElementAt(readLatencies.Count / 2)),
            ids.Length,
            ids.Length - present);
    }

    private static void Min(long[] slot, long value)
    {
        long current;
        while (value < (current = Volatile.Read(ref slot[0])) && Interlocked.CompareExchange(ref slot[0], value, current) != current)
        {
        }
    }

    private static async Task WaitAsync(Func<bool> condition, Func<string> state)
    {
        var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException("the failover did not complete within 30 s: " + state());
            }

            await Task.Delay(1);
        }
    }

    private sealed record RunResult(double KillToPlainReadMs, double KillToRywReadMs, bool RywServedByReplica, double KillToFailFastMs, double PromoteIssuedToWriteMs,
        double PromoteReturnedToWriteMs, double LongestReadGapMs, double LongestReadGapBeforeMs, double MedianReadMs, int Acknowledged, int Lost)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"kill->read {KillToPlainReadMs:0.0} ms, kill->ryw read {KillToRywReadMs:0.0} ms ({(RywServedByReplica ? "replica" : "new primary")}), kill->fail-fast {KillToFailFastMs:0.0} ms, "
            + $"promote issued->write {PromoteIssuedToWriteMs:0.0} ms, server writable->write {PromoteReturnedToWriteMs:0.0} ms, "
            + $"longest read gap {LongestReadGapMs:0.0} ms (before the kill {LongestReadGapBeforeMs:0.0} ms, median read {MedianReadMs:0.0} ms), "
            + $"acknowledged {Acknowledged}, lost {Lost}");
    }

    /// <summary>The cluster of tests/rig/pg-replicas.sh, stopped by pid on dispose.</summary>
    private sealed class Cluster : IAsyncDisposable
    {
        private const string Password = "pg-S3cret-pass";

        private Cluster(string root, int[] ports)
        {
            Root = root;
            Ports = ports;
        }

        public string Root { get; }

        public int[] Ports { get; }

        public string Url => $"postgresql://app:{Password}@127.0.0.1:{Ports[0]}/postgres";

        public static async Task<Cluster> StartAsync()
        {
            var root = Path.Combine("/tmp", $"switchboard-failover-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
            var ports = Enumerable.Range(0, 3).Select(_ => FreePort()).ToArray();
            await ScriptAsync(["start", root, .. ports.Select(p => p.ToString(CultureInfo.InvariantCulture))]);
            return new Cluster(root, ports);
        }

        public async Task ExecuteAsync(int node, string sql)
        {
            await using var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={Ports[node]};Username=app;Password={Password};Database=postgres;Pooling=false");
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }

        public async Task<NpgsqlConnection> OpenAsync(int node)
        {
            var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={Ports[node]};Username=app;Password={Password};Database=postgres;Pooling=false");
            await connection.OpenAsync();
            return connection;
        }

        public async Task<int> CountAsync(int node, long[] ids)
        {
            await using var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={Ports[node]};Username=app;Password={Password};Database=postgres;Pooling=false");
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT count(*) FROM items WHERE id = ANY(@ids)", connection);
            command.Parameters.AddWithValue("ids", ids);
            return (int)(long)(await command.ExecuteScalarAsync())!;
        }

        /// <summary>SIGQUIT to the postmaster: PostgreSQL's immediate shutdown, as abrupt as a crash, at a known instant.</summary>
        public void KillPrimary()
        {
            var pid = int.Parse(File.ReadAllText(Path.Combine(Root, "n0", "pid")).Trim(), CultureInfo.InvariantCulture);
            if (NativeMethods.Kill(pid, 3) != 0)
            {
                throw new InvalidOperationException($"kill -QUIT {pid} failed");
            }
        }

        public Task PromoteAsync(int node) => ScriptAsync(["promote", Root, node.ToString(CultureInfo.InvariantCulture)]);

        public async ValueTask DisposeAsync() => await ScriptAsync(["stop", Root]);

        private static async Task ScriptAsync(string[] args)
        {
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(Path.Combine(RepositoryRoot(), "tests", "rig", "pg-replicas.sh"));
            foreach (var a in args)
            {
                start.ArgumentList.Add(a);
            }

            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"pg-replicas.sh {args[0]} failed: {await stderr}");
            }
        }

        private static int FreePort()
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start();
            return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        private static string RepositoryRoot()
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Switchboard.slnx")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root");
        }
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int signal);
    }
}
