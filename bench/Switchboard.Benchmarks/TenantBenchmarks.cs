using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using Switchboard.Tenants;

namespace Switchboard.Benchmarks;

/// <summary>
/// Mean cost of a warm tenant checkout (engine in memory, a pooled connection idle) — open a connection of a tenant's
/// pool and return it — against the raw driver's pooled open/close of one file. 10,000 SQLite tenants are resident;
/// the checkouts go round-robin over 32 of them, under a cap of 64 open connections.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class TenantCheckoutBenchmarks
{
    private TenantFixture _fixture = null!;
    private SqliteConnection _raw = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _fixture = TenantFixture.CreateAsync(10_000).GetAwaiter().GetResult();
        _fixture.TouchAllAsync().GetAwaiter().GetResult();
        _raw = new SqliteConnection($"Data Source={_fixture.PathOf(0)}");
        RawPooled();
        for (var i = 0; i < TenantFixture.HotSet; i++)
        {
            TenantWarm().GetAwaiter().GetResult();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _raw.Dispose();
        _fixture.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Raw SqliteConnection open/close (pooled, one file)")]
    public void RawPooled()
    {
        _raw.Open();
        _raw.Close();
    }

    [Benchmark(Description = "Tenant checkout/return, warm (32 hot of 10,000)")]
    public async Task TenantWarm()
    {
        var id = TenantFixture.Id(_next++ % TenantFixture.HotSet);
        await using var connection = await _fixture.Set.ForTenant(id).OpenConnectionAsync();
    }
}

/// <summary>10,000 SQLite tenant files (empty files: SQLite treats them as new databases) and a tenant set over them.</summary>
internal sealed class TenantFixture : IDisposable
{
    public const int HotSet = 32;
    private readonly string _folder;

    private TenantFixture(string folder, SwitchboardCatalog catalog, int tenants)
    {
        _folder = folder;
        Catalog = catalog;
        Tenants = tenants;
        Set = catalog.Tenants("bench");
    }

    public SwitchboardCatalog Catalog { get; }

    public TenantSet Set { get; }

    public int Tenants { get; }

    public static string Id(int i) => $"t{i:00000}";

    public string PathOf(int i) => Path.Combine(_folder, Id(i) + ".db");

    public static Task<TenantFixture> CreateAsync(int tenants, int cap = 64)
    {
        var folder = Path.Combine(Path.GetTempPath(), "switchboard-bench-tenants");
        Directory.CreateDirectory(folder);
        for (var i = 0; i < tenants; i++)
        {
            var path = Path.Combine(folder, Id(i) + ".db");
            if (!File.Exists(path))
            {
                File.WriteAllBytes(path, []);
            }
        }

        var catalog = SwitchboardCatalog.CreateBuilder()
            .AddTenants("bench", "sqlite:///" + folder + "/{tenant}.db", o =>
            {
                o.MaxOpenConnections = cap;
                o.MaxEngines = tenants * 2;
                o.IdleTimeout = TimeSpan.FromHours(1);
                o.Options["journal_mode"] = "delete"; // no -wal/-shm files per tenant; the checkout is what is measured
            })
            .Build();
        return Task.FromResult(new TenantFixture(folder, catalog, tenants));
    }

    /// <summary>One checkout per tenant, so that every engine is in memory.</summary>
    public async Task TouchAllAsync()
    {
        for (var i = 0; i < Tenants; i++)
        {
            await using var connection = await Set.ForTenant(Id(i)).OpenConnectionAsync();
        }
    }

    public void Dispose() => Catalog.Dispose();
}

/// <summary>
/// Per-checkout latency percentiles (BenchmarkDotNet reports means of whole iterations, not per-operation tails) and
/// memory per tenant. Run: <c>dotnet run -c Release --project bench/Switchboard.Benchmarks -- tenant-latency</c>.
/// </summary>
public static class TenantLatencyReport
{
    public static async Task RunAsync()
    {
        const int tenants = 10_000;
        Console.WriteLine($"Tenant checkout latency, {tenants:N0} SQLite tenants, cap 64 open connections; {Environment.ProcessorCount} cores");

        using var fixture = await TenantFixture.CreateAsync(tenants);
        var set = fixture.Set;

        // An engine that never opened a connection: Switchboard's own cost (definition, pool gate, driver data source).
        var before = Memory();
        for (var i = 0; i < tenants; i++)
        {
            await using var session = set.ForTenant(TenantFixture.Id(i)).OpenSession();
        }

        Console.WriteLine($"memory per idle SQLite tenant engine, never connected: {(Memory() - before) / tenants:N0} bytes");
        set.EvictIdle(TimeSpan.Zero);
        var baseline = Memory();

        // Cold: the first checkout of each tenant creates its engine (definition, data source) and opens its file;
        // past the cap, it also closes the idle connection of the least recently returned tenant.
        var cold = await MeasureAsync(tenants, i => TenantFixture.Id(i), set);
        Report("cold (first checkout: engine created, file opened)", cold);
        var resident = Memory();
        Console.WriteLine($"memory per idle SQLite tenant after use (engine + the driver's pool group; connection closed): {(resident - baseline) / tenants:N0} bytes " +
            $"({set.GetStatistics()})");

        // Warm: engine in memory and a pooled connection idle (32 hot tenants under a cap of 64).
        for (var i = 0; i < TenantFixture.HotSet; i++)
        {
            await using var c = await set.ForTenant(TenantFixture.Id(i)).OpenConnectionAsync();
        }

        var warm = await MeasureAsync(50_000, i => TenantFixture.Id(i % TenantFixture.HotSet), set);
        Report("warm (engine in memory, pooled connection idle)", warm);

        // Engine in memory, but its connection was closed to stay under the cap: the file is opened again.
        var random = new Random(1);
        var reopen = await MeasureAsync(20_000, _ => TenantFixture.Id(random.Next(tenants)), set);
        Report("warm engine, connection reopened (random of 10,000)", reopen);

        // Raw driver for scale: pooled open/close of one file, and unpooled opens of random files.
        var raw = new long[50_000];
        await using (var connection = new SqliteConnection($"Data Source={fixture.PathOf(0)}"))
        {
            for (var i = 0; i < raw.Length; i++)
            {
                var t = Stopwatch.GetTimestamp();
                connection.Open();
                connection.Close();
                raw[i] = Stopwatch.GetTimestamp() - t;
            }
        }

        Report("raw SqliteConnection open/close, pooled, one file", raw);
        var rawCold = new long[5_000];
        for (var i = 0; i < rawCold.Length; i++)
        {
            var t = Stopwatch.GetTimestamp();
            await using (var connection = new SqliteConnection($"Data Source={fixture.PathOf(random.Next(tenants))};Pooling=False"))
            {
                connection.Open();
            }

            rawCold[i] = Stopwatch.GetTimestamp() - t;
        }

        Report("raw SqliteConnection open/close, unpooled, random file", rawCold);

        set.EvictIdle(TimeSpan.Zero);
        var evicted = Memory();
        Console.WriteLine($"memory left per tenant after every engine was evicted: {(evicted - baseline) / tenants:N0} bytes " +
            "(Microsoft.Data.Sqlite's pool groups, pruned by its own timer every 30 s after the first 4 minutes)");

        // PostgreSQL tenant engines: created without connecting (no server needed), to weigh an idle engine.
        before = Memory();
        await using (var catalog = SwitchboardCatalog.CreateBuilder()
            .AddTenants("pg", "postgresql://app:secret@127.0.0.1:5432/tenant_{tenant}", o => o.MaxEngines = 10_000)
            .Build())
        {
            var pg = catalog.Tenants("pg");
            for (var i = 0; i < 2_000; i++)
            {
                await using var session = pg.ForTenant(TenantFixture.Id(i)).OpenSession();
            }

            var after = Memory();
            Console.WriteLine($"memory per idle PostgreSQL tenant engine (Npgsql data source, no connection): {(after - before) / 2_000:N0} bytes");
        }
    }

    private static long Memory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static async Task<long[]> MeasureAsync(int count, Func<int, string> tenant, TenantSet set)
    {
        var ticks = new long[count];
        for (var i = 0; i < count; i++)
        {
            var id = tenant(i);
            var t = Stopwatch.GetTimestamp();
            await using (await set.ForTenant(id).OpenConnectionAsync())
            {
            }

            ticks[i] = Stopwatch.GetTimestamp() - t;
        }

        return ticks;
    }

    private static void Report(string what, long[] ticks)
    {
        Array.Sort(ticks);
        static double Us(long t) => t * 1_000_000.0 / Stopwatch.Frequency;
        Console.WriteLine($"{what,-55} n={ticks.Length,6:N0}  p50 {Us(ticks[ticks.Length / 2]),9:0.0} µs  p99 {Us(ticks[(int)(ticks.Length * 0.99)]),9:0.0} µs  max {Us(ticks[^1]),9:0.0} µs");
    }
}
