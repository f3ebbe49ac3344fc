using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using Switchboard.Dialects;
using Switchboard.Internal;

namespace Switchboard.Transactions;

/// <summary>
/// The catalog's coordinator of distributed transactions. Owns the durable log (opened on first use), this process's
/// incarnation (registered on the first transaction, held alive by a lock file or a heartbeat), the ids, the per-database
/// "is it ready for two-phase commit" answers, and a background loop that retries phase two on participants that could not
/// be reached, forgets finished decisions, and runs recovery at start-up and again while anything is left in doubt.
/// </summary>
internal sealed partial class TransactionCoordinator : IDisposable, IAsyncDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(5);

    /// <summary>A log in a database counts an incarnation alive while its heartbeat is younger than this.</summary>
    internal static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(30);

    private readonly SwitchboardCatalog _catalog;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _openLock = new(1, 1);
    private readonly SemaphoreSlim _recoveryLock = new(1, 1);
    private readonly SemaphoreSlim _tableCheckLock = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, byte> _undecided = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string?> _readiness = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, byte> _decisionTables = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, bool> _keepsDecisions = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<(string GlobalId, string Database), RetryItem> _retries = new();
    private readonly ConcurrentQueue<(DatabaseEngine Engine, string Key)> _tableForgets = new();
    private readonly ConcurrentDictionary<string, string> _participantRecords = new(StringComparer.Ordinal);
    private readonly Lock _backgroundLock = new();
    private int _backgroundCompletions;
    private CoordinatorLog? _log;
    private readonly ConcurrentDictionary<string, byte> _abandoned = new(StringComparer.Ordinal);
    private Task? _heartbeats;
    private long _lastHeartbeat;
    private string? _incarnation;
    private FileStream? _incarnationLock;
    private long _sequence;
    private Task? _background;
    private volatile bool _recoveryWanted;
    private DateTimeOffset _nextRecovery;
    private TimeSpan _recoveryBackoff;
    private int _disposed;

    public TransactionCoordinator(SwitchboardCatalog catalog, TransactionSettings settings, ILoggerFactory loggerFactory)
    {
        _catalog = catalog;
        Settings = settings;
        _logger = loggerFactory.CreateLogger("Switchboard.Transactions");
        _recoveryBackoff = settings.RetryInterval;
        if (settings.RecoverOnStart && (settings.LogDatabase is not null || File.Exists(settings.LogPath)))
        {
            RequestRecovery(immediately: true);
        }
    }

    public TransactionSettings Settings { get; }

    public SwitchboardCatalog Catalog => _catalog;

    public ILogger Logger => _logger;

    public FaultHandler? Faults => Settings.Faults;

    /// <summary>This process's incarnation id once registered (its undecided transactions are known in memory).</summary>
    public string? Incarnation => _incarnation;

    /// <summary>The random id of this application's log (in every transaction id it makes), once the log is open.</summary>
    public string? LogId => _log?.LogId;

    /// <summary>Takes one of the <see cref="TransactionSettings.MaxBackgroundCompletions"/> slots for a phase two run in the background; false when none is free.</summary>
    public bool TryStartBackgroundCompletion()
    {
        if (Interlocked.Increment(ref _backgroundCompletions) <= Settings.MaxBackgroundCompletions)
        {
            return true;
        }

        Interlocked.Decrement(ref _backgroundCompletions);
        return false;
    }

    public void EndBackgroundCompletion() => Interlocked.Decrement(ref _backgroundCompletions);

    /// <summary>How many branches wait for phase two to be retried.</summary>
    public int PendingRetries => _retries.Count;

    /// <summary>Opens (creating) the log and registers this process, once; returns the log.</summary>
    public async ValueTask<CoordinatorLog> GetWritableLogAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        if (_incarnation is not null)
        {
            return _log!;
        }

        await WaitAsync(_openLock, io, cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            try
            {
                _log ??= await CoordinatorLog.OpenAsync(_catalog, Settings, create: true, io, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is DbException or IOException or UnauthorizedAccessException && e is not TransactionLogException)
            {
                throw new TransactionLogException($"The transaction log ({Settings.LogLocation}) cannot be opened: {e.Message}", e);
            }

            if (_incarnation is null)
            {
                // The lock is taken before the row is written, and held until this process ends (kill -9 included), so
                // recovery elsewhere never sees this run without it.
                var folder = _log!.Folder;
                string id;
                try
                {
                    id = await _log.RegisterIncarnationAsync(candidate => folder is null || TryLock(folder, candidate), io, cancellationToken)
                        .ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new TransactionLogException($"The transaction log ({Settings.LogLocation}) cannot take this process's lock file: {e.Message}", e);
                }

                if (folder is null && _disposed == 0)
                {
                    // Heartbeats on a loop of their own: retries and recovery passes that wait on an unreachable database
                    // must never delay them past the timeout, or recovery elsewhere would take this process for ended.
                    Volatile.Write(ref _lastHeartbeat, Stopwatch.GetTimestamp());
                    _heartbeats = Task.Run(() => HeartbeatLoopAsync(_log, id), CancellationToken.None);
                }

                _incarnation = id;
                LogIncarnation(_logger, id, _log.LogId, _log.Location);
            }

            return _log!;
        }
        finally
        {
            _openLock.Release();
        }
    }

    /// <summary>
    /// With a log in a database: how long since this process last renewed its heartbeat there. Recovery elsewhere takes it
    /// for ended once that reaches <see cref="HeartbeatTimeout"/>, so a transaction does not prepare past half of it.
    /// Null with a log file, whose lock is held for as long as the process lives.
    /// </summary>
    public TimeSpan? SinceLastHeartbeat => _heartbeats is null ? null : Stopwatch.GetElapsedTime(Volatile.Read(ref _lastHeartbeat));

    private List<string> AllSecrets => [.. _catalog.Databases.SelectMany(d => d.Secrets)];

    private async Task HeartbeatLoopAsync(CoordinatorLog log, string incarnation)
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(HeartbeatInterval, token).ConfigureAwait(false);
                var started = Stopwatch.GetTimestamp();
                if (await log.HeartbeatAsync(incarnation, IOBehavior.Asynchronous, token).ConfigureAwait(false))
                {
                    Volatile.Write(ref _lastHeartbeat, started);
                }
                else
                {
                    // Taken for ended elsewhere: prepared branches of ours may have been rolled back. Registered again; until
                    // the next renewal lands, this process refuses to prepare (its last renewal is made to look stale).
                    Volatile.Write(ref _lastHeartbeat, Stopwatch.GetTimestamp() - Stopwatch.Frequency * (long)HeartbeatTimeout.TotalSeconds);
                    LogRegisteredAgain(_logger, incarnation);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Any failure, a driver's bug included: a heartbeat loop that ended would let recovery elsewhere take this
                // process for ended.
                LogBackgroundFailed(_logger, e.GetType().Name, SecretMasker.Scrub(e.Message, AllSecrets));
            }
        }
    }

    /// <summary>The log if it exists (without creating one), or null.</summary>
    public async ValueTask<CoordinatorLog?> GetExistingLogAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        if (_log is { } log)
        {
            return log;
        }

        await WaitAsync(_openLock, io, cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            return _log ??= await CoordinatorLog.OpenAsync(_catalog, Settings, create: false, io, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _openLock.Release();
        }
    }

    public string NewGlobalId(string? decider, int? branches = null)
    {
        var sequence = Interlocked.Increment(ref _sequence);
        // Fixed width, so that ids (and the commit records keyed by them) sort in the order they were made: each new record
        // lands on the index's rightmost page instead of among the not-yet-vacuumed rows of finished transactions.
        var sequenceText = GlobalTransactionId.Base36(sequence).PadLeft(GlobalTransactionId.SequenceWidth, '0');
        return new GlobalTransactionId(Settings.CoordinatorName, _log!.LogId, _incarnation!, sequenceText, decider, branches).ToString();
    }

    /// <summary>The participants as a decision records them; the same databases in the same order give the same text, so it is kept.</summary>
    public string ParticipantsRecord(IReadOnlyList<Participant> participants)
    {
        var key = string.Join('|', participants.Select(p => p.Prepares ? p.Database : "*" + p.Database));
        if (_participantRecords.TryGetValue(key, out var record))
        {
            return record;
        }

        record = RecordedParticipant.Serialize(participants.Select(p =>
            new RecordedParticipant(p.Branch.Qualifier, p.Database, p.Engine.Definition.Target, !p.Prepares)));
        if (_participantRecords.Count < 1024)
        {
            _participantRecords.TryAdd(key, record);
        }

        return record;
    }

    /// <summary>Best-effort transactions are never prepared: their ids only name them in messages.</summary>
    public string NewLocalId() => $"be.{Settings.CoordinatorName}.{Environment.ProcessId}.{GlobalTransactionId.Base36(Interlocked.Increment(ref _sequence))}";

    // Transactions begun here and not yet decided: recovery in this process leaves them alone.
    public void MarkUndecided(string globalId) => _undecided.TryAdd(globalId, 0);

    public void MarkDecided(string globalId) => _undecided.TryRemove(globalId, out _);

    public bool IsUndecided(string globalId) => _undecided.ContainsKey(globalId);

    /// <summary>
    /// Hands one of this process's own transactions to recovery: its coordinator has given up deciding it (a last resource
    /// whose outcome could not be read back), so recovery settles it as it would a crashed process's, not leave it alone.
    /// </summary>
    public void Abandon(string globalId)
    {
        _abandoned.TryAdd(globalId, 0);
        RequestRecovery(immediately: false);
    }

    /// <summary>
    /// Whether the process that began a transaction may still act on it, as a recovery pass must see it: this process, unless
    /// it had handed the transaction over (abandoned it) before the pass began; another process, if it was running when the
    /// pass began (one that ended during the pass may have prepared or committed a branch after the pass listed them),
    /// registered while the pass ran, or is running now. <paramref name="known"/> is the registry read after the scan.
    /// </summary>
    public async ValueTask<bool> IsRunningAsync(CoordinatorLog log, string globalId, string incarnation, IReadOnlyList<IncarnationRecord> known,
        RecoveryPassStart pass)
    {
        if (incarnation == _incarnation)
        {
            return !pass.Abandoned.Contains(globalId);
        }

        return pass.RunningBefore.Contains(incarnation)
            || (!pass.KnownBefore.Contains(incarnation) && known.Any(k => k.Id == incarnation))
            || await IsAliveAsync(log, incarnation, known).ConfigureAwait(false);
    }

    /// <summary>What a recovery pass knows before it looks at the databases: which transactions this process had handed over, which processes ran.</summary>
    public async ValueTask<RecoveryPassStart> BeginRecoveryPassAsync(CoordinatorLog? log, IOBehavior io, CancellationToken cancellationToken)
    {
        var known = new HashSet<string>(StringComparer.Ordinal);
        var running = new HashSet<string>(StringComparer.Ordinal);
        if (log is not null)
        {
            var incarnations = await log.ReadIncarnationsAsync(io, cancellationToken).ConfigureAwait(false);
            foreach (var incarnation in incarnations)
            {
                known.Add(incarnation.Id);
                if (incarnation.Id != _incarnation && await IsAliveAsync(log, incarnation.Id, incarnations).ConfigureAwait(false))
                {
                    running.Add(incarnation.Id);
                }
            }
        }

        return new RecoveryPassStart([.. _abandoned.Keys], known, running);
    }

    /// <summary>
    /// A recovery pass that read every database left nothing of the transactions abandoned before it began
    /// (<paramref name="seen"/>) but <paramref name="remaining"/>. One abandoned while it ran waits for the next pass.
    /// </summary>
    public void SettledAbandoned(IReadOnlyCollection<string> seen, IReadOnlySet<string> remaining)
    {
        foreach (var globalId in seen)
        {
            if (!remaining.Contains(globalId))
            {
                _abandoned.TryRemove(globalId, out _);
            }
        }
    }

    /// <summary>Whether an incarnation of a coordinator using this log is running (this one, or another process).</summary>
    public async ValueTask<bool> IsAliveAsync(CoordinatorLog log, string incarnation, IReadOnlyList<IncarnationRecord> known)
    {
        if (incarnation == _incarnation)
        {
            return true;
        }

        if (log.Folder is { } folder)
        {
            var path = LockPath(folder, incarnation);
            if (!File.Exists(path))
            {
                return false;
            }

            try
            {
                await using var probe = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                return false;
            }
            catch (IOException)
            {
                return true; // the lock is held
            }
            catch (UnauthorizedAccessException)
            {
                return true; // cannot tell: assume alive, so nothing of it is aborted
            }
        }

        var record = known.FirstOrDefault(k => k.Id == incarnation);
        return record is not null && record.NowMs - record.HeartbeatMs < HeartbeatTimeout.TotalMilliseconds;
    }

    /// <summary>Deletes a dead incarnation's lock file (recovery's clean-up).</summary>
    public static void DeleteLockFile(CoordinatorLog log, string incarnation)
    {
        if (log.Folder is { } folder)
        {
            try
            {
                File.Delete(LockPath(folder, incarnation));
            }
            catch (IOException)
            {
            }
        }
    }

    private bool TryLock(string folder, string incarnation)
    {
        var path = LockPath(folder, incarnation);
        try
        {
            var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
            _incarnationLock?.Dispose(); // a candidate whose row could not be written
            _incarnationLock = stream;
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false; // that id's lock file exists: another run has it. Any other failure (a full disk) is thrown, not retried.
        }
    }

    private static string LockPath(string folder, string incarnation) =>
        Path.Combine(folder, TransactionCoordinatorOptions.LogFileName + "." + incarnation + ".lock");

    /// <summary>
    /// Whether a database is ready for two-phase commit, asked once per engine on a fresh connection: null when ready, else
    /// the reason in plain words. A failure to ask is not cached.
    /// </summary>
    public async ValueTask<string?> CheckReadyAsync(DatabaseEngine engine, DbConnection connection, IOBehavior io, CancellationToken cancellationToken)
    {
        if (_readiness.TryGetValue(engine.Name, out var known))
        {
            return known;
        }

        var problem = await engine.Dialect.CheckTwoPhaseCommitAsync(connection, io == IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
        _readiness[engine.Name] = problem;
        return problem;
    }

    // CanKeepDecisionsAsync's answer for a database not ready for two-phase commit at all (compared by reference).
    private static readonly string NotReady = new('-', 1);

    /// <summary>
    /// Whether every one of <paramref name="engines"/> can keep its branch's commit record (its decision table exists or can
    /// be created), asked once per engine. A database where Switchboard may not create the table makes the transactions it
    /// joins keep their decision in the coordinator log instead (logged once), rather than failing.
    /// </summary>
    public async ValueTask<bool> CanKeepDecisionsAsync(IReadOnlyList<DatabaseEngine> engines, IOBehavior io, CancellationToken cancellationToken)
    {
        foreach (var engine in engines)
        {
            if (_keepsDecisions.TryGetValue(engine.Name, out var known))
            {
                if (!known)
                {
                    return false;
                }

                continue;
            }

            // First use of this engine: one caller asks (a burst of first transactions must not all run the DDL at once).
            await WaitAsync(_tableCheckLock, io, cancellationToken).ConfigureAwait(false);
            try
            {
                if (!_keepsDecisions.TryGetValue(engine.Name, out known))
                {
                    string? problem;
                    try
                    {
                        problem = await EngineWork.WithConnectionAsync(engine, io, cancellationToken, async connection =>
                        {
                            // A database that cannot prepare is refused when the branch begins; no table is made there first.
                            if (engine.Definition.CanPrepare && await CheckReadyAsync(engine, connection, io, cancellationToken).ConfigureAwait(false) is not null)
                            {
                                return NotReady;
                            }

                            return await EnsureDecisionTableAsync(engine, connection, io, cancellationToken).ConfigureAwait(false);
                        }).ConfigureAwait(false);
                        if (ReferenceEquals(problem, NotReady))
                        {
                            return false; // not remembered as a table problem: the begin reports why the database cannot prepare
                        }
                    }
                    catch (Exception e) when (e is DbException or IOException or InvalidOperationException or TimeoutException)
                    {
                        return false; // unreachable just now: not remembered; beginning the branch reports the connection problem
                    }

                    known = _keepsDecisions[engine.Name] = problem is null;
                    if (problem is not null)
                    {
                        LogDecisionsInLog(_logger, engine.Name, problem);
                    }
                }
            }
            finally
            {
                _tableCheckLock.Release();
            }

            if (!known)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Creates a database's decision table (a last resource's, or a participant's) once per engine, outside any transaction.
    /// Returns null when the table is there, else why it cannot be created, in plain words.
    /// </summary>
    public async ValueTask<string?> EnsureDecisionTableAsync(DatabaseEngine engine, DbConnection connection, IOBehavior io, CancellationToken cancellationToken)
    {
        if (_decisionTables.ContainsKey(engine.Name))
        {
            return null;
        }

        var sql = engine.Dialect.TransactionTables;
        try
        {
            await CoordinatorLog.ExecuteAsync(connection, null, sql.CreateDecisionTable, null, io, cancellationToken).ConfigureAwait(false);
        }
        catch (DbException create)
        {
            // Another process (or transaction) may have created it at the same moment: PostgreSQL's IF NOT EXISTS can still
            // fail on the catalog's unique index then. What counts is whether the table can be read now.
            try
            {
                await CoordinatorLog.ExecuteAsync(connection, null, sql.ProbeDecisionTable, null, io, cancellationToken).ConfigureAwait(false);
            }
            catch (DbException)
            {
                return $"Switchboard cannot create its decision table switchboard_tx_decision there ({SecretMasker.Scrub(create.Message, engine.Definition.Secrets)}). "
                    + "Grant the user CREATE, create the table yourself (docs/transactions.md has the statement), "
                    + "or set TransactionCoordinatorOptions.DecisionsInParticipants = false to keep decisions in the coordinator log";
            }
        }

        _decisionTables.TryAdd(engine.Name, 0);
        return null;
    }

    /// <summary>
    /// Settles a transaction whose decision is kept in a last resource: records a presumed abort there, unless the commit
    /// is recorded first, and returns the outcome that holds. The insert waits for a last-resource transaction still in
    /// flight (its row lock; SQLite: its write lock), so a commit whose reply was lost is seen as committed, never as missing.
    /// </summary>
    public static ValueTask<char> ClaimInLastResourceAsync(DatabaseEngine engine, string globalId, string participants, IOBehavior io,
        CancellationToken cancellationToken)
    {
        var sql = engine.Dialect.TransactionTables;
        return EngineWork.WithConnectionAsync(engine, io, cancellationToken, async connection =>
        {
            await CoordinatorLog.ExecuteAsync(connection, null, sql.CreateDecisionTable, null, io, cancellationToken).ConfigureAwait(false);
            return await EngineWork.InTransactionAsync(engine, connection, io, cancellationToken, async transaction =>
            {
                await CoordinatorLog.ExecuteAsync(connection, transaction, sql.InsertDecisionIfAbsent,
                    new { gtid = globalId, outcome = "A", participants, decided = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, io, cancellationToken)
                    .ConfigureAwait(false);
                var outcome = await CoordinatorLog.QueryFirstAsync<string>(connection, transaction, sql.SelectDecision, new { gtid = globalId }, io,
                    cancellationToken).ConfigureAwait(false);
                return outcome?[0] ?? 'A';
            }).ConfigureAwait(false);
        });
    }

    /// <summary>
    /// Hands branches that could not be told the outcome to the background retry. On the databases in
    /// <paramref name="maybePrepared"/> (whose PREPARE lost its connection) "no such branch" counts only once no session is
    /// left preparing it; <paramref name="sessionHints"/> name the branches' own sessions, for a branch still attached to one.
    /// </summary>
    public void RetryLater(string globalId, bool commit, IEnumerable<(string Database, TransactionBranch Branch)> branches, DatabaseEngine? decider,
        IReadOnlyList<(DatabaseEngine Engine, string Key)>? branchRecords = null, IReadOnlyDictionary<string, long?>? sessionHints = null,
        IReadOnlyCollection<string>? maybePrepared = null)
    {
        foreach (var (database, branch) in branches)
        {
            _retries[(globalId, database)] = new RetryItem(globalId, database, branch, commit, decider, branchRecords)
            {
                Due = DateTimeOffset.UtcNow + Settings.RetryInterval,
                Backoff = Settings.RetryInterval,
                MaybePrepared = maybePrepared?.Contains(database) == true,
                SessionHint = sessionHints?.GetValueOrDefault(database),
            };
        }

        EnsureBackground();
        _wake.Release();
    }

    /// <summary>
    /// A finished transaction's decision is no longer needed: forget it lazily, wherever it is kept — its participants'
    /// commit records (<paramref name="branchRecords"/>) or its last resource's row, deleted in bulk by the background loop
    /// (a commit record must outlive every prepared branch, as recovery's proof of commit); or the coordinator log, with
    /// the next flush or a background tick.
    /// </summary>
    public void ForgetDecision(string globalId, DatabaseEngine? decider, IReadOnlyList<(DatabaseEngine Engine, string Key)>? branchRecords = null)
    {
        if (branchRecords is not null)
        {
            foreach (var record in branchRecords)
            {
                _tableForgets.Enqueue(record);
            }
        }
        else if (decider is not null)
        {
            _tableForgets.Enqueue((decider, globalId));
        }
        else
        {
            _log?.Forget(globalId); // the background tick writes the forgets that no flush has taken
        }

        EnsureBackground();
    }

    /// <summary>Asks the background loop for a recovery pass (start-up, or something left in doubt that the retry cannot settle).</summary>
    public void RequestRecovery(bool immediately)
    {
        _recoveryWanted = true;
        if (immediately)
        {
            _nextRecovery = DateTimeOffset.MinValue;
        }

        EnsureBackground();
        _wake.Release();
    }

    /// <summary>One recovery pass, serialised with any other in this process.</summary>
    public async ValueTask<RecoveryReport> RecoverAsync(RecoveryOptions options, IOBehavior io, CancellationToken cancellationToken)
    {
        await WaitAsync(_recoveryLock, io, cancellationToken).ConfigureAwait(false);
        try
        {
            var log = await GetExistingLogAsync(io, cancellationToken).ConfigureAwait(false);
            var report = await TransactionRecovery.RunAsync(this, log, options, io, cancellationToken).ConfigureAwait(false);
            var committed = report.Actions.Count(a => a.Action is RecoveryActionKind.Committed);
            var rolledBack = report.Actions.Count(a => a.Action is RecoveryActionKind.RolledBack);
            var left = report.Actions.Count(a => a.Action is RecoveryActionKind.Failed or RecoveryActionKind.LeftInProgress) + report.Problems.Count;
            LogRecovery(_logger, committed, rolledBack, left);
            return report;
        }
        finally
        {
            _recoveryLock.Release();
        }
    }

    private void EnsureBackground()
    {
        if (_background is not null || _disposed != 0)
        {
            return;
        }

        lock (_backgroundLock)
        {
            _background ??= Task.Run(RunBackgroundAsync);
        }
    }

    private async Task RunBackgroundAsync()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                var now = DateTimeOffset.UtcNow;
                var wait = Tick;
                foreach (var item in _retries.Values)
                {
                    wait = TimeSpan.FromTicks(Math.Min(wait.Ticks, Math.Max(0, (item.Due - now).Ticks)));
                }

                if (_recoveryWanted)
                {
                    wait = TimeSpan.FromTicks(Math.Min(wait.Ticks, Math.Max(0, (_nextRecovery - now).Ticks)));
                }

                await _wake.WaitAsync(wait, token).ConfigureAwait(false);
                await RetryDueAsync(token).ConfigureAwait(false);
                if (_recoveryWanted && DateTimeOffset.UtcNow >= _nextRecovery)
                {
                    // Before the housekeeping below, which an unreachable database can make fail: recovery must still run.
                    _recoveryWanted = false;
                    var complete = false;
                    try
                    {
                        complete = (await RecoverAsync(new RecoveryOptions(), IOBehavior.Asynchronous, token).ConfigureAwait(false)).IsComplete;
                    }
                    finally
                    {
                        if (!complete)
                        {
                            // Something was unreachable, is still running elsewhere, or the pass failed: look again later,
                            // less and less often.
                            _recoveryWanted = true;
                            _nextRecovery = DateTimeOffset.UtcNow + _recoveryBackoff;
                            _recoveryBackoff = TimeSpan.FromTicks(Math.Min(_recoveryBackoff.Ticks * 2, Settings.MaxRetryInterval.Ticks));
                        }
                        else
                        {
                            _recoveryBackoff = Settings.RetryInterval;
                        }
                    }
                }

                if (_log is { } log)
                {
                    await log.FlushForgetsAsync(IOBehavior.Asynchronous).ConfigureAwait(false);
                }

                await ForgetTableDecisionsAsync(IOBehavior.Asynchronous, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception) when (token.IsCancellationRequested || _catalog.IsDisposing)
            {
                return; // disposal (the catalog refuses new work a moment before this loop is told to stop): not worth a warning
            }
            catch (Exception e)
            {
                // An unreachable log or database (SwitchboardException is a DbException), or anything unexpected: the next
                // tick tries again. The loop must not end while branches wait for it.
                var errorType = e.GetType().Name;
                LogBackgroundFailed(_logger, errorType, SecretMasker.Scrub(e.Message, AllSecrets));
                try
                {
                    await Task.Delay(Tick, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async ValueTask RetryDueAsync(CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var item in _retries.Values.Where(i => i.Due <= now).ToList())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var engine = _catalog.GetEngine(item.Database);
            try
            {
                var completed = await EngineWork.WithConnectionAsync(engine, IOBehavior.Asynchronous, cancellationToken, async connection =>
                {
                    // A lost PREPARE may still be running: "no such branch" proves nothing until no session is left preparing it.
                    if (item.MaybePrepared
                        && await PreparedBranches.EndPreparingSessionsQuietlyAsync(engine.Dialect, connection, item.Branch, IOBehavior.Asynchronous)
                            .ConfigureAwait(false))
                    {
                        item.MaybePrepared = false; // confirmed once: no need to look again
                    }

                    var completion = await PreparedBranches.CompleteAsync(engine.Dialect, connection, item.Branch, item.Commit, item.SessionHint,
                        IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
                    if (completion == BranchCompletion.NotFound && item.MaybePrepared)
                    {
                        return BranchCompletion.Attached; // not confirmed yet: try again later
                    }

                    if (completion == BranchCompletion.NotFound && item.Commit && item.BranchRecords is not null
                        && !await PreparedBranches.CommitRecordVisibleAsync(engine.Dialect, connection, item.Branch, IOBehavior.Asynchronous).ConfigureAwait(false))
                    {
                        LogPartial(_logger, item.GlobalId, item.Database);
                    }

                    return completion;
                }).ConfigureAwait(false);
                if (completed == BranchCompletion.Attached)
                {
                    throw new InvalidOperationException("the branch is still attached to a session that has not ended");
                }

                _retries.TryRemove((item.GlobalId, item.Database), out _);
                LogRetried(_logger, item.GlobalId, item.Database, item.Commit ? "committed" : "rolled back");
                if (item.Commit && !_retries.Keys.Any(k => k.GlobalId == item.GlobalId))
                {
                    ForgetDecision(item.GlobalId, item.Decider, item.BranchRecords);
                }
            }
            catch (Exception e) when (e is DbException or IOException or InvalidOperationException or TimeoutException)
            {
                var wait = item.Backoff;
                item.Due = DateTimeOffset.UtcNow + wait;
                item.Backoff = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, Settings.MaxRetryInterval.Ticks));
                var errorType = e.GetType().Name;
                LogRetryFailed(_logger, item.GlobalId, item.Database, errorType, wait.TotalSeconds);
            }
        }
    }

    private async ValueTask ForgetTableDecisionsAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        var byEngine = new Dictionary<DatabaseEngine, List<string>>();
        while (_tableForgets.TryDequeue(out var forget))
        {
            if (!byEngine.TryGetValue(forget.Engine, out var list))
            {
                byEngine[forget.Engine] = list = [];
            }

            list.Add(forget.Key);
        }

        // One unreachable database must not keep the others' rows: each is tried, and what failed waits for the next tick.
        // A cancellation (disposal), or anything unexpected, puts back everything not yet deleted, for the next tick or the
        // final sweep: a record dropped here would outlive its siblings for good.
        Exception? failure = null;
        var pending = byEngine.ToList();
        for (var k = 0; k < pending.Count; k++)
        {
            var (engine, globalIds) = pending[k];
            try
            {
                await DeleteDecisionsAsync(engine, globalIds, io, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not (DbException or IOException or InvalidOperationException or TimeoutException))
            {
                foreach (var (rest, ids) in pending.Skip(k))
                {
                    foreach (var id in ids)
                    {
                        _tableForgets.Enqueue((rest, id));
                    }
                }

                throw;
            }
            catch (Exception e) when (e is DbException or IOException or InvalidOperationException or TimeoutException)
            {
                foreach (var id in globalIds)
                {
                    _tableForgets.Enqueue((engine, id));
                }

                failure ??= e;
            }
        }

        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>Deletes rows from a database's decision table (a last resource's, or a participant's), in one transaction.</summary>
    public static ValueTask<int> DeleteDecisionsAsync(DatabaseEngine engine, IReadOnlyCollection<string> globalIds, IOBehavior io, CancellationToken cancellationToken) =>
        globalIds.Count == 0
            ? new(0)
            : EngineWork.WithConnectionAsync(engine, io, cancellationToken, connection =>
                EngineWork.InTransactionAsync(engine, connection, io, cancellationToken, async transaction =>
                {
                    // In chunks: one statement per chunk, whatever the number of transactions finished since the last tick.
                    var deleted = 0;
                    foreach (var chunk in globalIds.Chunk(500))
                    {
                        deleted += await CoordinatorLog.ExecuteAsync(connection, transaction, engine.Dialect.TransactionTables.DeleteDecisions, new { gtids = chunk },
                            io, cancellationToken).ConfigureAwait(false);
                    }

                    return deleted;
                }));

    internal static async ValueTask WaitAsync(SemaphoreSlim semaphore, IOBehavior io, CancellationToken cancellationToken)
    {
        if (io == IOBehavior.Synchronous)
        {
            semaphore.Wait(cancellationToken);
        }
        else
        {
            await semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping.Cancel();
        try
        {
            _background?.Wait(TimeSpan.FromSeconds(10));
            _heartbeats?.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
        }

        try
        {
            FinalSweepAsync(IOBehavior.Synchronous).GetCompletedResult();
            _log?.DisposeAsync(IOBehavior.Synchronous).GetCompletedResult();
        }
        finally
        {
            ReleaseIncarnationLock();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var task in new[] { _background, _heartbeats })
        {
            try
            {
                await (task ?? Task.CompletedTask).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }

        try
        {
            await FinalSweepAsync(IOBehavior.Asynchronous).ConfigureAwait(false);
            if (_log is { } log)
            {
                await log.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            ReleaseIncarnationLock();
        }
    }

    /// <summary>
    /// Deletes the commit records finished transactions left queued, for a few seconds at most: without it a process that
    /// ends soon after its last commit leaves them behind (recovery elsewhere deletes only complete sets).
    /// </summary>
    private async ValueTask FinalSweepAsync(IOBehavior io)
    {
        if (_tableForgets.IsEmpty)
        {
            return;
        }

        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await ForgetTableDecisionsAsync(io, limit.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Disposal goes on whatever happened here: what is left stays for recovery (complete sets) to delete.
            LogBackgroundFailed(_logger, e.GetType().Name, SecretMasker.Scrub(e.Message, AllSecrets));
        }
    }

    private void ReleaseIncarnationLock()
    {
        // The lock file stays (recovery deletes it with the incarnation's row once nothing of it is left); only the lock goes.
        _incarnationLock?.Dispose();
        _incarnationLock = null;
        _stopping.Dispose();
    }

    /// <summary>A prepared branch waiting to be told the outcome again.</summary>
    private sealed class RetryItem(string globalId, string database, TransactionBranch branch, bool commit, DatabaseEngine? decider,
        IReadOnlyList<(DatabaseEngine Engine, string Key)>? branchRecords)
    {
        /// <summary>For a transaction whose decision is kept in its participants: the rows to forget once it is complete.</summary>
        public IReadOnlyList<(DatabaseEngine Engine, string Key)>? BranchRecords { get; } = branchRecords;

        public string GlobalId { get; } = globalId;

        public string Database { get; } = database;

        public TransactionBranch Branch { get; } = branch;

        public bool Commit { get; } = commit;

        public DatabaseEngine? Decider { get; } = decider;

        public DateTimeOffset Due { get; set; }

        public TimeSpan Backoff { get; set; }

        public bool MaybePrepared { get; set; }

        public long? SessionHint { get; init; }
    }

    [LoggerMessage(EventId = 4012, Level = LogLevel.Error,
        Message = "Distributed transaction {TransactionId} committed only in part: {Databases} had been rolled back by someone else (another process's recovery, taking this one for ended?)")]
    internal static partial void LogPartial(ILogger logger, string transactionId, string databases);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "Transaction coordinator incarnation {Incarnation} was taken for ended by another process (its heartbeat row was gone): registered again")]
    private static partial void LogRegisteredAgain(ILogger logger, string incarnation);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Transaction coordinator incarnation {Incarnation} registered in log {LogId} at {Location}")]
    private static partial void LogIncarnation(ILogger logger, string incarnation, string logId, string location);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Distributed transaction {TransactionId}: {Database} {Outcome} on retry")]
    private static partial void LogRetried(ILogger logger, string transactionId, string database, string outcome);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Distributed transaction {TransactionId}: {Database} still unreachable ({ErrorType}); next try in {Seconds} s")]
    private static partial void LogRetryFailed(ILogger logger, string transactionId, string database, string errorType, double seconds);

    /// <summary>Logs a failure of background work that has no caller to throw to (a phase two completed in the background).</summary>
    internal void ReportBackgroundFailure(Exception e) => LogBackgroundFailed(_logger, e.GetType().Name, SecretMasker.Scrub(e.Message, AllSecrets));

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Transaction coordinator background work failed ({ErrorType}): {Message}")]
    private static partial void LogBackgroundFailed(ILogger logger, string errorType, string message);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "Distributed transactions involving {Database} keep their commit decision in the coordinator log: {Problem}")]
    private static partial void LogDecisionsInLog(ILogger logger, string database, string problem);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Information, Message = "Transaction recovery: branches committed: {Committed}, rolled back: {RolledBack}, left for later: {Left}")]
    private static partial void LogRecovery(ILogger logger, int committed, int rolledBack, int left);
}

/// <summary>What a recovery pass knew before it looked at the databases (see <see cref="TransactionCoordinator.IsRunningAsync"/>).</summary>
internal sealed record RecoveryPassStart(IReadOnlyCollection<string> Abandoned, IReadOnlySet<string> KnownBefore, IReadOnlySet<string> RunningBefore);
