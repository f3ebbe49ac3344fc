using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Dapper;
using Npgsql;

namespace Switchboard.Benchmarks;

/// <summary>
/// Two-phase commit against one PostgreSQL server with fsync on (SWITCHBOARD_BENCH_PG: an ADO.NET connection string for a
/// superuser; max_prepared_transactions above 0), or two (SWITCHBOARD_BENCH_PG_B: a second server, for database b). Every
/// transaction updates one row per database — each client its own rows, so clients never wait for each other's locks. Per
/// operation: the mean at 1 client is the latency, at 16 clients the inverse of the throughput.
/// <list type="bullet">
/// <item>SingleCommit: BEGIN, UPDATE, COMMIT on one database (raw Npgsql): the baseline.</item>
/// <item>HandWrittenParallel: two databases, each driven in parallel: BEGIN, UPDATE, PREPARE TRANSACTION; then COMMIT PREPARED on both in parallel (the floor).</item>
/// <item>HandWrittenWithRecords: the same, each branch also inserting a one-column commit record in its PREPARE round trip — the
/// floor of any protocol that, like Switchboard's default, keeps the decision in the participants (records are not deleted).</item>
/// <item>HandWrittenBarrier: HandWrittenWithRecords shaped like a transaction API: both UPDATEs end before either PREPARE.</item>
/// <item>Interleaved runs only: the barrier with Switchboard's record, with no record at all (not crash-safe: it measures the
/// barrier alone), and with each branch's transaction id in the gids instead of a record; and the Auto Prepare trio
/// (<c>Max Auto Prepare</c> on): the parallel floor, the barrier with Switchboard's record, and Switchboard.</item>
/// <item>Switchboard: the same work through a distributed transaction; the decision is kept in the participants (the default).</item>
/// <item>SwitchboardLogDecision: the same, with the decision written to the coordinator log (a SQLite file on the same disk).</item>
/// <item>SwitchboardInBackground: the same, returning once the decision is durable (phase two in the background).</item>
/// <item>Sequential: prepare one database, then the other, then commit one, then the other (what SQLAlchemy's twophase does).</item>
/// </list>
/// </summary>
// Thirty warm-up iterations (at least 15 s): tiered compilation settles only after about 10 s with two cores shared with the server.
[SimpleJob(warmupCount: 30, iterationCount: 10)]
[MedianColumn]
public class TwoPhaseBenchmarks
{
    internal const int Operations = 64;
    private static readonly DistributedTransactionOptions InBackground = DistributedTransactionOptions.Default with { CompleteInBackground = true };
    private static readonly string[] Participants = ["a", "b"];

    private NpgsqlDataSource _single = null!;
    private NpgsqlDataSource _a = null!;
    private NpgsqlDataSource _b = null!;
    private NpgsqlDataSource _aAutoPrepare = null!;
    private NpgsqlDataSource _bAutoPrepare = null!;
    private SwitchboardCatalog _catalog = null!;
    private SwitchboardCatalog _logCatalog = null!;
    private SwitchboardCatalog _autoPrepareCatalog = null!;
    private string _logFolder = null!;
    private long _gid;

    [Params(1, 16)]
    public int Clients { get; set; }

    /// <summary>Transactions per invocation (BenchmarkDotNet: always <see cref="Operations"/>; the interleaved runner may set more).</summary>
    internal int TransactionsPerRound { get; set; } = Operations;

    [GlobalSetup]
    public void Setup()
    {
        var server = Environment.GetEnvironmentVariable("SWITCHBOARD_BENCH_PG")
            ?? throw new InvalidOperationException("set SWITCHBOARD_BENCH_PG to a connection string of a PostgreSQL with fsync on (see docs/benchmarks.md)");
        // SWITCHBOARD_BENCH_PG_B (optional): a second server for database b, so that the two participants flush separate WALs,
        // as participants on two servers do.
        var serverB = Environment.GetEnvironmentVariable("SWITCHBOARD_BENCH_PG_B") is { Length: > 0 } second ? second : server;
        var databases = new[] { ("bench2pc_single", server), ("bench2pc_a", server), ("bench2pc_b", serverB) };
        foreach (var (name, host) in databases)
        {
            using var admin = new NpgsqlConnection(host);
            admin.Open();

            // A run killed between the phases leaves prepared transactions, which would block the DROP.
            foreach (var (gid, database) in admin.Query<(string, string)>("SELECT gid, database FROM pg_prepared_xacts WHERE database = @name", new { name }))
            {
                using var owner = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(host) { Database = database, Pooling = false }.ConnectionString);
                owner.Open();
                owner.Execute($"ROLLBACK PREPARED '{gid.Replace("'", "''", StringComparison.Ordinal)}'");
            }

            admin.Execute($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            admin.Execute($"CREATE DATABASE {name}");
        }

        NpgsqlDataSource Open((string Name, string Host) database)
        {
            var builder = new NpgsqlConnectionStringBuilder(database.Host) { Database = database.Name, MaxPoolSize = 40 };
            var source = NpgsqlDataSource.Create(builder.ConnectionString);
            using var connection = source.OpenConnection();
            connection.Execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance BIGINT NOT NULL)");
            connection.Execute("INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 64) g");
            connection.Execute("CREATE TABLE commit_records (gtid VARCHAR(100) PRIMARY KEY)");

            // Switchboard's own decision table, as it creates it on first use: HandWrittenBarrierSwitchboardRecord writes into it.
            connection.Execute(new global::Switchboard.PostgreSql.PostgreSqlDialect().TransactionTables.CreateDecisionTable);
            return source;
        }

        _single = Open(databases[0]);
        _a = Open(databases[1]);
        _b = Open(databases[2]);

        // Npgsql prepares a statement on the server once it has run twice on a connection: the same databases, with parse and
        // plan saved on every repeated statement (the UPDATE, and Switchboard's record insert; never a PREPARE TRANSACTION,
        // whose text changes every time).
        NpgsqlDataSource AutoPrepare((string Name, string Host) database) => NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(database.Host)
        {
            Database = database.Name,
            MaxPoolSize = 40,
            MaxAutoPrepare = 8,
            AutoPrepareMinUsages = 2,
        }.ConnectionString);
        _aAutoPrepare = AutoPrepare(databases[1]);
        _bAutoPrepare = AutoPrepare(databases[2]);
        _logFolder = Path.Combine(Path.GetTempPath(), "sb-bench-log-" + Guid.NewGuid().ToString("N")[..8]);
        static string Url((string Name, string Host) database)
        {
            var url = new NpgsqlConnectionStringBuilder(database.Host);
            return $"postgresql://{url.Username}:{Uri.EscapeDataString(url.Password ?? "")}@{url.Host}:{url.Port}/{database.Name}";
        }

        SwitchboardCatalog Catalog(bool decisionsInParticipants, string folder, string query = "") => SwitchboardCatalog.CreateBuilder()
            .AddDatabase("a", Url(databases[1]) + query, o => o.Pool.MaxSize = 40)
            .AddDatabase("b", Url(databases[2]) + query, o => o.Pool.MaxSize = 40)
            .ConfigureTransactions(o =>
            {
                o.LogFolder = folder;
                o.RecoverOnStart = false;
                o.DecisionsInParticipants = decisionsInParticipants;
            })
            .Build();
        _catalog = Catalog(decisionsInParticipants: true, _logFolder);
        _logCatalog = Catalog(decisionsInParticipants: false, Path.Combine(_logFolder, "log-mode"));
        _autoPrepareCatalog = Catalog(decisionsInParticipants: true, Path.Combine(_logFolder, "auto-prepare"), "?Max%20Auto%20Prepare=8&Auto%20Prepare%20Min%20Usages=2");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _catalog.Dispose();
        _logCatalog.Dispose();
        _autoPrepareCatalog.Dispose();
        _single.Dispose();
        _a.Dispose();
        _b.Dispose();
        _aAutoPrepare.Dispose();
        _bAutoPrepare.Dispose();
        if (Directory.Exists(_logFolder))
        {
            Directory.Delete(_logFolder, recursive: true); // created on the first distributed transaction only
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations)]
    public Task SingleCommit() => RunClients(async id =>
    {
        await using var connection = await _single.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("UPDATE accounts SET balance = balance + 1 WHERE id = @id", new { id }, tx);
        await tx.CommitAsync();
    });

    [Benchmark(OperationsPerInvoke = Operations)]
    public Task HandWrittenParallel() => RunClients(id => ParallelTransferAsync(_a, _b, "hw-", id, record: false));

    [Benchmark(OperationsPerInvoke = Operations)]
    public Task HandWrittenWithRecords() => RunClients(id => ParallelTransferAsync(_a, _b, "hr-", id, record: true));

    // As HandWrittenWithRecords, but shaped like any transaction API: the caller's work on both databases ends before
    // either is prepared, instead of each connection going from its UPDATE straight to its PREPARE.
    [Benchmark(OperationsPerInvoke = Operations)]
    public Task HandWrittenBarrier() => RunClients(id => BarrierTransferAsync(_a, _b, id, BarrierRecord.OneColumn));

    /// <summary>
    /// <see cref="HandWrittenBarrier"/> writing the record Switchboard writes (its table, a Switchboard-shaped 59-character id and the time):
    /// what the record's shape costs. Interleaved runs only.
    /// </summary>
    public Task HandWrittenBarrierSwitchboardRecord() => RunClients(id => BarrierTransferAsync(_a, _b, id, BarrierRecord.Switchboard));

    /// <summary>
    /// <see cref="HandWrittenBarrier"/> with no record at all: the barrier alone. Not crash-safe (after a crash between the
    /// two COMMIT PREPAREDs nothing says whether the missing branch committed or never prepared). Interleaved runs only.
    /// </summary>
    public Task HandWrittenBarrierNoRecord() => RunClients(id => BarrierTransferAsync(_a, _b, id, BarrierRecord.None));

    /// <summary>
    /// The record-free alternative on PostgreSQL: each branch's transaction id, asked for right after BEGIN, goes into every
    /// branch's gid, so that recovery could ask <c>pg_xact_status</c> whether a missing branch committed. Interleaved runs only.
    /// </summary>
    public Task HandWrittenBarrierTransactionIds() => RunClients(id => BarrierTransferAsync(_a, _b, id, BarrierRecord.TransactionIds));

    /// <summary><see cref="HandWrittenParallel"/> with Npgsql's automatic preparation on (Max Auto Prepare). Interleaved runs only.</summary>
    public Task HandWrittenParallelAutoPrepare() => RunClients(id => ParallelTransferAsync(_aAutoPrepare, _bAutoPrepare, "hwp-", id, record: false));

    /// <summary><see cref="HandWrittenBarrierSwitchboardRecord"/> with automatic preparation on. Interleaved runs only.</summary>
    public Task HandWrittenBarrierAutoPrepare() => RunClients(id => BarrierTransferAsync(_aAutoPrepare, _bAutoPrepare, id, BarrierRecord.Switchboard));

    /// <summary><see cref="Switchboard"/> with automatic preparation on (URL query). Interleaved runs only.</summary>
    public Task SwitchboardAutoPrepare() => RunClients(id => SwitchboardTransferAsync(_autoPrepareCatalog, null, id));

    /// <summary>
    /// One transfer with each connection going from its UPDATE straight to its PREPARE; <paramref name="record"/>: a one-column
    /// commit record in the PREPARE's round trip.
    /// </summary>
    private async Task ParallelTransferAsync(NpgsqlDataSource sourceA, NpgsqlDataSource sourceB, string prefix, int id, bool record)
    {
        var gid = NextGid(prefix);
        await using var a = await sourceA.OpenConnectionAsync();
        await using var b = await sourceB.OpenConnectionAsync();
        await Task.WhenAll(PrepareAsync(a, id, gid + "-a", record), PrepareAsync(b, id, gid + "-b", record));
        await Task.WhenAll(ExecuteAsync(a, $"COMMIT PREPARED '{gid}-a'"), ExecuteAsync(b, $"COMMIT PREPARED '{gid}-b'"));
    }

    // A new gid of fixed length: the prefix and a zero-padded counter.
    private string NextGid(string prefix) => prefix + Interlocked.Increment(ref _gid).ToString("D12", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>One transfer through a distributed transaction; <paramref name="clock"/> (if any) marks its steps.</summary>
    private static async Task SwitchboardTransferAsync(SwitchboardCatalog catalog, DistributedTransactionOptions? options, int id, StepClock? clock = null)
    {
        clock?.Mark(0);
        await using (var tx = await catalog.BeginDistributedAsync(Participants, options))
        {
            clock?.Mark(1);
            await Task.WhenAll(
                tx.Session("a").ExecuteAsync("UPDATE accounts SET balance = balance + 1 WHERE id = @id", new { id }),
                tx.Session("b").ExecuteAsync("UPDATE accounts SET balance = balance - 1 WHERE id = @id", new { id }));
            clock?.Mark(2);
            await tx.CommitAsync();
            clock?.Mark(3);
        }

        clock?.Mark(4);
    }

    /// <summary>One <see cref="HandWrittenBarrier"/> transfer; <paramref name="clock"/> (if any) marks its steps.</summary>
    private async Task BarrierTransferAsync(NpgsqlDataSource sourceA, NpgsqlDataSource sourceB, int id, BarrierRecord record, StepClock? clock = null)
    {
        clock?.Mark(0);
        var gid = NextGid(record == BarrierRecord.Switchboard ? "sb1.bench-coordinator.3f9a2c7d1e0b.k2x9q1.hs-" : "hb-");
        await using (var a = await sourceA.OpenConnectionAsync())
        await using (var b = await sourceB.OpenConnectionAsync())
        await using (var ta = await a.BeginTransactionAsync())
        await using (var tb = await b.BeginTransactionAsync())
        {
            if (record == BarrierRecord.TransactionIds)
            {
                // One more round trip per branch (with its BEGIN): an id is known only once the transaction has one.
                var idA = a.ExecuteScalarAsync<string>("SELECT pg_current_xact_id()::text", transaction: ta);
                var idB = b.ExecuteScalarAsync<string>("SELECT pg_current_xact_id()::text", transaction: tb);
                gid += ".X" + await idA + "." + await idB;
            }

            clock?.Mark(1);
            await Task.WhenAll(
                a.ExecuteAsync("UPDATE accounts SET balance = balance + 1 WHERE id = @id", new { id }, ta),
                b.ExecuteAsync("UPDATE accounts SET balance = balance - 1 WHERE id = @id", new { id }, tb));
            clock?.Mark(2);
            await Task.WhenAll(RecordAndPrepareAsync(a, ta, gid + "-a", record), RecordAndPrepareAsync(b, tb, gid + "-b", record));
            clock?.Mark(3);
            await Task.WhenAll(ExecuteAsync(a, $"COMMIT PREPARED '{gid}-a'"), ExecuteAsync(b, $"COMMIT PREPARED '{gid}-b'"));
            clock?.Mark(4);
        }

        clock?.Mark(5);
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public Task Switchboard() => RunClients(id => SwitchboardTransferAsync(_catalog, null, id));

    [Benchmark(OperationsPerInvoke = Operations)]
    public Task SwitchboardLogDecision() => RunClients(id => SwitchboardTransferAsync(_logCatalog, null, id));

    [Benchmark(OperationsPerInvoke = Operations)]
    public Task SwitchboardInBackground() => RunClients(id => SwitchboardTransferAsync(_catalog, InBackground, id));

    [Benchmark(OperationsPerInvoke = Operations)]
    public Task Sequential() => RunClients(async id =>
    {
        var gid = "sq-" + Interlocked.Increment(ref _gid);
        await using var a = await _a.OpenConnectionAsync();
        await using var b = await _b.OpenConnectionAsync();
        await PrepareAsync(a, id, gid + "-a", record: false);
        await PrepareAsync(b, id, gid + "-b", record: false);
        await ExecuteAsync(a, $"COMMIT PREPARED '{gid}-a'");
        await ExecuteAsync(b, $"COMMIT PREPARED '{gid}-b'");
    });

    /// <summary>One Switchboard transfer, timed by step (µs, and thread-pool work items): begin, the two UPDATEs, commit, dispose.</summary>
    internal async Task<(double[] Micros, double[] WorkItems)> SwitchboardStepsAsync(int id)
    {
        var clock = new StepClock(5);
        await SwitchboardTransferAsync(_catalog, null, id, clock);
        return clock.Steps();
    }

    /// <summary>
    /// One <see cref="HandWrittenBarrier"/> transfer, timed by step (µs, and thread-pool work items): open and begin, the two
    /// UPDATEs, record and prepare, commit prepared, dispose.
    /// </summary>
    internal async Task<(double[] Micros, double[] WorkItems)> BarrierStepsAsync(int id, BarrierRecord record)
    {
        var clock = new StepClock(6);
        await BarrierTransferAsync(_a, _b, id, record, clock);
        return clock.Steps();
    }

    /// <summary>Time and thread-pool work items at each mark; <see cref="Steps"/> gives what each step between two marks took.</summary>
    private sealed class StepClock(int marks)
    {
        private readonly long[] _timestamps = new long[marks];
        private readonly long[] _workItems = new long[marks];

        public void Mark(int index)
        {
            _timestamps[index] = Stopwatch.GetTimestamp();
            _workItems[index] = ThreadPool.CompletedWorkItemCount;
        }

        public (double[] Micros, double[] WorkItems) Steps() =>
            ([.. _timestamps.Zip(_timestamps.Skip(1), (from, to) => Stopwatch.GetElapsedTime(from, to).TotalMicroseconds)],
             [.. _workItems.Zip(_workItems.Skip(1), (from, to) => (double)(to - from))]);
    }

    private static async Task PrepareAsync(NpgsqlConnection connection, int id, string gid, bool record)
    {
        await using var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("UPDATE accounts SET balance = balance + 1 WHERE id = @id", new { id }, tx);
        await RecordAndPrepareAsync(connection, tx, gid, record ? BarrierRecord.OneColumn : BarrierRecord.None);
    }

    // The commit record (if any) and PREPARE TRANSACTION in one round trip.
    private static async Task RecordAndPrepareAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string gid, BarrierRecord record)
    {
        if (record is BarrierRecord.None or BarrierRecord.TransactionIds)
        {
            await ExecuteAsync(connection, $"PREPARE TRANSACTION '{gid}'", tx);
            return;
        }

        var insert = record == BarrierRecord.Switchboard
            ? "INSERT INTO switchboard_tx_decision (gtid, outcome, participants, decided_ms) VALUES (@gid, 'C', '', @ms)"
            : "INSERT INTO commit_records VALUES (@gid)";
        await using var insertAndPrepare = new NpgsqlCommand($"{insert}; PREPARE TRANSACTION '{gid}'", connection, tx);
        insertAndPrepare.Parameters.AddWithValue("gid", gid);
        if (record == BarrierRecord.Switchboard)
        {
            insertAndPrepare.Parameters.AddWithValue("ms", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        }

        await insertAndPrepare.ExecuteNonQueryAsync();
    }

    // Raw commands for statements whose text changes every time (Dapper would cache each one as a new query).
    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, NpgsqlTransaction? transaction = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Runs <see cref="TransactionsPerRound"/> transactions split over <see cref="Clients"/> concurrent clients. Each client
    /// turns over four rows of its own, so it never waits for another client's locks, nor for its own previous transaction's.
    /// </summary>
    private Task RunClients(Func<int, Task> transaction) => Task.WhenAll(Enumerable.Range(1, Clients).Select(async client =>
    {
        for (var i = 0; i < TransactionsPerRound / Clients; i++)
        {
            await transaction(client + 16 * (i % 4));
        }
    }));
}

/// <summary>
/// The coordinator log alone: one commit decision made durable (SQLite file, WAL, synchronous = FULL, same disk as the
/// PostgreSQL data), then forgotten with the next flush, as after every successful distributed commit. At 16 clients
/// the decisions share flushes (group commit).
/// </summary>
[SimpleJob(warmupCount: 3, iterationCount: 10)]
[MedianColumn]
public class CoordinatorLogBenchmarks
{
    private const int Operations = 64;
    private SwitchboardCatalog _catalog = null!;
    private Transactions.CoordinatorLog _log = null!;
    private string _folder = null!;
    private long _id;

    [Params(1, 16)]
    public int Clients { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "sb-bench-log-" + Guid.NewGuid().ToString("N")[..8]);
        _catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("unused", "sqlite:///" + Path.Combine(_folder, "unused.db"))
            .ConfigureTransactions(o => o.LogFolder = _folder)
            .Build();
        _log = _catalog.Transactions.GetWritableLogAsync(Internal.IOBehavior.Asynchronous, default).AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _catalog.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public Task RecordDecision() => Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
    {
        // Task.Run: a SQLite write completes synchronously, so without it the "clients" would run one after another.
        for (var i = 0; i < Operations / Clients; i++)
        {
            var id = "bench." + Interlocked.Increment(ref _id);
            await _log.RecordAsync(id, 'C', "[]", Internal.IOBehavior.Asynchronous);
            _log.Forget(id);
        }
    })));
}

/// <summary>
/// The same ways to commit, run in turn round after round rather than one after another, so that changes in the machine's
/// speed fall on all of them alike and their ratios stay meaningful. Prints, per transaction, the median time, the median
/// CPU time and allocation of this process, and the CPU time of the PostgreSQL processes. Run:
/// <c>dotnet run -c Release --project bench/Switchboard.Benchmarks -- two-phase-interleaved [ROUNDS [CLIENTS,... [VARIANT,...|all [TRANSACTIONS]]]]</c>.
/// </summary>
public static class TwoPhaseInterleaved
{
    // First-chance exceptions thrown in this process (by Switchboard, the drivers, or the benchmark): none belong on the happy path.
    private static long _firstChanceExceptions;

    public static async Task RunAsync(string[] args)
    {
        AppDomain.CurrentDomain.FirstChanceException += (_, _) => Interlocked.Increment(ref _firstChanceExceptions);
        // two-phase-interleaved [ROUNDS [CLIENTS,... [VARIANT,...|all [TRANSACTIONS]]]]; naming variants runs only those (e.g. under a profiler).
        var rounds = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 15;
        var clientCounts = args.Length > 1 ? args[1].Split(',').Select(c => int.Parse(c, System.Globalization.CultureInfo.InvariantCulture)).ToArray() : [1, 16];

        // TRANSACTIONS per round (default 64): with 16 clients a 64-transaction round is 4 per client, so the clients'
        // ramp-up and the round's tail weigh on it; longer rounds measure steady throughput, shorter ones resist drift.
        var perRound = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : TwoPhaseBenchmarks.Operations;
        if (clientCounts.Where(c => c <= 0 || perRound % c != 0).ToArray() is [var uneven, ..])
        {
            // Every client runs perRound / clients transactions: a remainder would be counted but never run.
            throw new ArgumentException($"{perRound} transactions per round do not split evenly over {uneven} clients.");
        }

        var bench = new TwoPhaseBenchmarks { TransactionsPerRound = perRound };
        bench.Setup();
        try
        {
            (string Name, Func<Task> Run)[] variants =
            [
                ("SingleCommit", bench.SingleCommit),
                ("HandWrittenParallel", bench.HandWrittenParallel),
                ("HandWrittenWithRecords", bench.HandWrittenWithRecords),
                ("HandWrittenBarrier", bench.HandWrittenBarrier),
                ("HandWrittenBarrierSwitchboardRecord", bench.HandWrittenBarrierSwitchboardRecord),
                ("HandWrittenBarrierNoRecord", bench.HandWrittenBarrierNoRecord),
                ("HandWrittenBarrierTransactionIds", bench.HandWrittenBarrierTransactionIds),
                ("HandWrittenParallelAutoPrepare", bench.HandWrittenParallelAutoPrepare),
                ("HandWrittenBarrierAutoPrepare", bench.HandWrittenBarrierAutoPrepare),
                ("SwitchboardAutoPrepare", bench.SwitchboardAutoPrepare),
                ("Switchboard", bench.Switchboard),
                ("SwitchboardLogDecision", bench.SwitchboardLogDecision),
                ("SwitchboardInBackground", bench.SwitchboardInBackground),
                ("Sequential", bench.Sequential),
            ];
            if (args.Length > 2 && args[2] != "all")
            {
                var only = args[2].Split(',');
                variants = [.. variants.Where(v => only.Contains(v.Name))];
            }

            foreach (var clients in clientCounts)
            {
                bench.Clients = clients;
                var samples = variants.ToDictionary(v => v.Name, _ => new VariantSamples());

                // Warm-up rounds are measured like the others and discarded, until the JIT has settled: tiered compilation keeps
                // recompiling hot methods in the background for seconds after start (about 10 s with two cores shared with
                // the server), and rounds measured meanwhile pay for it unevenly. Settled: at least 15 s of warm-up, and a
                // round that compiled at most two methods; warm-up ends after 60 s regardless.
                var warmUpStarted = System.Diagnostics.Stopwatch.GetTimestamp();
                var warmUpRounds = 0;
                var measuring = false;
                (long Methods, TimeSpan Time) jitBefore = default;
                for (var measured = 0; measured < rounds;)
                {
                    var compiledBefore = System.Runtime.JitInfo.GetCompiledMethodCount();

                    // The order changes every round.
                    foreach (var (name, run) in variants.OrderBy(_ => Random.Shared.Next()))
                    {
                        // /proc is read outside the client's measured window (it costs CPU), and only in measured rounds.
                        var procBefore = measuring ? ProcCounters.Read() : default;
                        var before = ClientCounters.Read();
                        await run();
                        var after = ClientCounters.Read();
                        if (measuring)
                        {
                            samples[name].Add(before, after, procBefore, ProcCounters.Read(), perRound);
                        }
                    }

                    if (measuring)
                    {
                        measured++;
                        continue;
                    }

                    var warmedUp = System.Diagnostics.Stopwatch.GetElapsedTime(warmUpStarted);
                    warmUpRounds++;
                    if (warmedUp > TimeSpan.FromSeconds(15) && System.Runtime.JitInfo.GetCompiledMethodCount() - compiledBefore <= 2
                        || warmedUp > TimeSpan.FromSeconds(60))
                    {
                        measuring = true;
                        jitBefore = (System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime());
                        Console.WriteLine($"clients={clients}: warmed up in {warmUpRounds} rounds, {warmedUp.TotalSeconds:0.0} s");
                    }
                }

                var baseline = samples.TryGetValue("HandWrittenParallel", out var handWritten) ? Median(handWritten.Micros) : double.NaN;
                var jitted = System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore.Methods;
                var jitTime = System.Runtime.JitInfo.GetCompilationTime() - jitBefore.Time;
                Console.WriteLine($"clients={clients} ({rounds} rounds of {perRound} transactions each, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}; "
                    + $"{jitted} methods compiled in {jitTime.TotalMilliseconds:0} ms during the measured rounds)");
                foreach (var (name, _) in variants)
                {
                    var variant = samples[name];
                    var median = Median(variant.Micros);
                    var transactions = (double)rounds * perRound;
                    Console.WriteLine($"  {name,-36} {median,10:0} us/transaction   {median / baseline,5:0.00}x hand-written   {1_000_000 / median,8:0} tx/s   "
                        + $"client CPU {Median(variant.Cpu),6:0} us/transaction   allocated {Median(variant.Allocated) / 1024,6:0.0} KiB/transaction   "
                        + $"server CPU {variant.Proc.ServerTicks * 10_000.0 / transactions,6:0} us/transaction   "
                        + $"thread-pool work items {Median(variant.WorkItems),5:0.0}   lock contentions {Median(variant.Contentions),5:0.00}   "
                        + $"exceptions {variant.Exceptions.Average(),5:0.00} /transaction   context switches per transaction (voluntary/involuntary) "
                        + $"client {variant.Proc.ClientVoluntary / transactions:0.0}/{variant.Proc.ClientInvoluntary / transactions:0.0}, "
                        + $"server {variant.Proc.ServerVoluntary / transactions:0.0}/{variant.Proc.ServerInvoluntary / transactions:0.0}");
                }
            }
        }
        finally
        {
            bench.Cleanup();
        }
    }

    /// <summary>
    /// CPU time (user + system, in clock ticks of 10 ms) and context switches of every PostgreSQL process on this machine,
    /// from /proc: the database server's share of the work, summed over all rounds (one round is too short for the clock's
    /// resolution). A PostgreSQL process has one thread, so its status is the whole process's.
    /// </summary>
    private static (long Ticks, long Voluntary, long Involuntary) ServerUsage()
    {
        long ticks = 0, voluntary = 0, involuntary = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!char.IsAsciiDigit(Path.GetFileName(directory)[0]))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var close = stat.LastIndexOf(')');
                if (!stat.AsSpan(0, close).Contains("(postgres", StringComparison.Ordinal))
                {
                    continue;
                }

                var fields = stat[(close + 2)..].Split(' ');
                ticks += long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
                var (v, i) = Switches(Path.Combine(directory, "status"));
                voluntary += v;
                involuntary += i;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not a process, or it ended while we looked.
            }
        }

        return (ticks, voluntary, involuntary);
    }

    /// <summary>Context switches of this process's live threads (a thread that has ended takes its count with it).</summary>
    private static (long Voluntary, long Involuntary) ClientSwitches()
    {
        long voluntary = 0, involuntary = 0;
        foreach (var thread in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                var (v, i) = Switches(Path.Combine(thread, "status"));
                voluntary += v;
                involuntary += i;
            }
            catch (IOException)
            {
                // The thread ended while we looked.
            }
        }

        return (voluntary, involuntary);
    }

    private static (long Voluntary, long Involuntary) Switches(string statusFile)
    {
        long voluntary = 0, involuntary = 0;
        foreach (var line in File.ReadLines(statusFile))
        {
            if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
            {
                voluntary = long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
            {
                involuntary = long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return (voluntary, involuntary);
    }

    /// <summary>What this process counts itself, read just before and just after a round.</summary>
    private readonly record struct ClientCounters(long Timestamp, TimeSpan Cpu, long Allocated, long WorkItems, long Contentions, long Exceptions)
    {
        public static ClientCounters Read() => new(System.Diagnostics.Stopwatch.GetTimestamp(), System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime,
            GC.GetTotalAllocatedBytes(precise: false), ThreadPool.CompletedWorkItemCount, Monitor.LockContentionCount, Interlocked.Read(ref _firstChanceExceptions));
    }

    /// <summary>What /proc counts: PostgreSQL's CPU ticks and context switches, and this process's context switches.</summary>
    private readonly record struct ProcCounters(long ServerTicks, long ServerVoluntary, long ServerInvoluntary, long ClientVoluntary, long ClientInvoluntary)
    {
        public static ProcCounters Read()
        {
            var (ticks, serverVoluntary, serverInvoluntary) = ServerUsage();
            var (clientVoluntary, clientInvoluntary) = ClientSwitches();
            return new(ticks, serverVoluntary, serverInvoluntary, clientVoluntary, clientInvoluntary);
        }

        public static ProcCounters operator +(ProcCounters x, ProcCounters y) => new(x.ServerTicks + y.ServerTicks, x.ServerVoluntary + y.ServerVoluntary,
            x.ServerInvoluntary + y.ServerInvoluntary, x.ClientVoluntary + y.ClientVoluntary, x.ClientInvoluntary + y.ClientInvoluntary);

        public static ProcCounters operator -(ProcCounters x, ProcCounters y) => new(x.ServerTicks - y.ServerTicks, x.ServerVoluntary - y.ServerVoluntary,
            x.ServerInvoluntary - y.ServerInvoluntary, x.ClientVoluntary - y.ClientVoluntary, x.ClientInvoluntary - y.ClientInvoluntary);
    }

    /// <summary>
    /// One variant's measured rounds: per transaction, each round's time, CPU, allocation and counters (for medians); and the
    /// /proc counters summed over all rounds (one round is too short for their resolution).
    /// </summary>
    private sealed class VariantSamples
    {
        public List<double> Micros { get; } = [];

        public List<double> Cpu { get; } = [];

        public List<double> Allocated { get; } = [];

        public List<double> WorkItems { get; } = [];

        public List<double> Contentions { get; } = [];

        public List<double> Exceptions { get; } = [];

        public ProcCounters Proc { get; private set; }

        public void Add(ClientCounters before, ClientCounters after, ProcCounters procBefore, ProcCounters procAfter, int transactions)
        {
            Micros.Add(System.Diagnostics.Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalMicroseconds / transactions);
            Cpu.Add((after.Cpu - before.Cpu).TotalMicroseconds / transactions);
            Allocated.Add((after.Allocated - before.Allocated) / (double)transactions);
            WorkItems.Add((after.WorkItems - before.WorkItems) / (double)transactions);
            Contentions.Add((after.Contentions - before.Contentions) / (double)transactions);
            Exceptions.Add((after.Exceptions - before.Exceptions) / (double)transactions);
            Proc += procAfter - procBefore;
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

/// <summary>What a hand-written barrier transaction writes to make its outcome known after a crash.</summary>
internal enum BarrierRecord
{
    /// <summary>Nothing (not crash-safe).</summary>
    None,

    /// <summary>A one-column row (its gid) in its PREPARE's round trip.</summary>
    OneColumn,

    /// <summary>The row Switchboard writes: its table, a Switchboard-shaped 59-character id and the time.</summary>
    Switchboard,

    /// <summary>No row; every branch's transaction id in every gid (one more round trip per branch after BEGIN).</summary>
    TransactionIds,
}
