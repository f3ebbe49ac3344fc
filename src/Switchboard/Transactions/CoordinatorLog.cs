using System.Data.Common;
using System.Security.Cryptography;
using Dapper;
using Microsoft.Extensions.Logging;
using Switchboard.Dialects;
using Switchboard.Internal;

namespace Switchboard.Transactions;

/// <summary>One row of <c>switchboard_tx_decision</c>: a commit ('C') or an abort that recovery claimed ('A').</summary>
internal sealed record DecisionRecord(string GlobalId, char Outcome, string Participants, long DecidedMs);

/// <summary>One run of a coordinator process that has registered in a log; <paramref name="NowMs"/> is the log's clock when it was read.</summary>
internal sealed record IncarnationRecord(string Id, string Process, long StartedMs, long HeartbeatMs, long NowMs);

/// <summary>
/// The durable log of commit decisions. A decision is written and flushed before any participant is told to commit; the
/// absence of one means abort (presumed abort), so only commits cost a durable write. Recovery records an abort here before
/// rolling back a transaction it found without a decision: the insert-if-absent makes the coordinator's commit and recovery's
/// abort race for one row, so they can never both win.
/// <para>
/// Group commit: a writer that finds no flush under way leads and writes every queued decision in one transaction (one
/// fsync); writers arriving meanwhile queue, and when the leader is done it hands the lead to the first of them. Forgetting
/// finished transactions rides along with the next flush. The log is a SQLite file (WAL, <c>synchronous = FULL</c>) or
/// tables in a named database, both through an ordinary <see cref="DatabaseEngine"/> and the dialect's SQL.
/// </para>
/// </summary>
internal sealed class CoordinatorLog : IAsyncDisposable
{
    private readonly DatabaseEngine _engine;
    private readonly bool _ownsEngine;
    private readonly TransactionTableSql _sql;
    private readonly Lock _lock = new();
    private List<PendingDecision> _queue = [];
    private List<string> _forgets = [];
    private const int ForgetBatch = 256;
    private bool _leading;
    private Writer? _writer;
    private long _flushes;
    private long _decisions;

    private CoordinatorLog(DatabaseEngine engine, bool ownsEngine, string location, string? folder, string logId)
    {
        _engine = engine;
        _ownsEngine = ownsEngine;
        _sql = engine.Dialect.TransactionTables;
        Location = location;
        Folder = folder;
        LogId = logId;
    }

    /// <summary>The random id of this log, written into every transaction id it decides.</summary>
    public string LogId { get; }

    /// <summary>Where the log is, for messages (a file path, or <c>database 'x'</c>).</summary>
    public string Location { get; }

    /// <summary>The folder of a file log (for incarnation lock files); null for a log in a database.</summary>
    public string? Folder { get; }

    /// <summary>Log transactions that carried at least one decision (each one durable write).</summary>
    public long Flushes => Interlocked.Read(ref _flushes);

    /// <summary>Decisions written; more than <see cref="Flushes"/> when concurrent transactions shared a flush.</summary>
    public long Decisions => Interlocked.Read(ref _decisions);

    public int PendingForgets
    {
        get
        {
            lock (_lock)
            {
                return _forgets.Count;
            }
        }
    }

    /// <summary>
    /// Opens the log, creating it when <paramref name="create"/> is set. Returns null when it does not exist and may not be
    /// created (recovery from the CLI must not invent an empty log somewhere else).
    /// </summary>
    public static async ValueTask<CoordinatorLog?> OpenAsync(SwitchboardCatalog catalog, TransactionSettings settings, bool create, IOBehavior io,
        CancellationToken cancellationToken)
    {
        DatabaseEngine engine;
        var ownsEngine = false;
        string? folder = null;
        if (settings.LogDatabase is { } database)
        {
            engine = catalog.GetEngine(database);
        }
        else
        {
            var path = settings.LogPath!;
            if (!create && !File.Exists(path))
            {
                return null;
            }

            folder = Path.GetDirectoryName(path)!;
            Directory.CreateDirectory(folder);
            engine = CreateFileEngine(settings, path, catalog.LoggerFactory);
            ownsEngine = true;
        }

        try
        {
            var logId = await InitializeAsync(engine, create, io, cancellationToken).ConfigureAwait(false);
            if (logId is null)
            {
                if (ownsEngine)
                {
                    await engine.DisposeAsync().ConfigureAwait(false);
                }

                return null;
            }

            return new CoordinatorLog(engine, ownsEngine, settings.LogLocation, folder, logId);
        }
        catch
        {
            if (ownsEngine)
            {
                await engine.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    private static DatabaseEngine CreateFileEngine(TransactionSettings settings, string path, ILoggerFactory loggerFactory)
    {
        if (!settings.Dialects.TryResolve("sqlite", out var sqlite, out var problem))
        {
            throw new InvalidOperationException(
                $"The transaction log is a SQLite file by default and {problem}; or set ConfigureTransactions(o => o.LogDatabase = \"...\") to keep it in a database.");
        }

        var problems = new List<string>();
        // Quoted as a connection string needs: a folder may contain ';' or '='.
        var connectionString = new DbConnectionStringBuilder { ["Data Source"] = path }.ConnectionString;
        var request = new ConnectionRequest("(transaction log)", null, connectionString, null, PoolSettings.Default with { MaxSize = 4 },
            TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30), []);
        var connection = sqlite.CreateSettings(request, problems)
            ?? throw new InvalidOperationException($"The transaction log '{path}' cannot be opened: {string.Join("; ", problems)}");
        var definition = new DatabaseDefinition("(transaction log)", sqlite, connection, request.Pool, request.CommandTimeout, request.ConnectTimeout, []);
        return new DatabaseEngine(definition, loggerFactory.CreateLogger("Switchboard.Transactions"));
    }

    /// <summary>Creates the tables (when allowed) and reads the log id, creating it the first time.</summary>
    private static async ValueTask<string?> InitializeAsync(DatabaseEngine engine, bool create, IOBehavior io, CancellationToken cancellationToken)
    {
        var sql = engine.Dialect.TransactionTables;
        var connection = await engine.OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
        try
        {
            if (create)
            {
                foreach (var statement in sql.CreateTables)
                {
                    await ExecuteAsync(connection, null, statement, null, io, cancellationToken).ConfigureAwait(false);
                }

                var fresh = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
                await ExecuteAsync(connection, null, sql.InsertMetaIfAbsent, new { name = "log_id", value = fresh }, io, cancellationToken).ConfigureAwait(false);
            }

            try
            {
                return await QueryFirstAsync<string>(connection, null, sql.SelectMeta, new { name = "log_id" }, io, cancellationToken).ConfigureAwait(false);
            }
            catch (DbException e) when (!create && engine.Dialect.Classify(e) == DatabaseErrorKind.UndefinedObject)
            {
                return null; // a database that never held a log
            }
        }
        finally
        {
            await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Makes a decision durable, unless another is already recorded for the transaction. Returns the outcome that is now
    /// recorded: <paramref name="outcome"/>, or the one that was there first.
    /// </summary>
    public async ValueTask<char> RecordAsync(string globalId, char outcome, string participants, IOBehavior io)
    {
        var me = new PendingDecision(globalId, outcome, participants);
        bool lead;
        lock (_lock)
        {
            _queue.Add(me);
            lead = !_leading;
            _leading = true;
        }

        if (!lead)
        {
            // Wait until a leader has written us (true), or has handed us the lead (false).
            var written = io == IOBehavior.Synchronous ? me.Signal.Task.GetAwaiter().GetResult() : await me.Signal.Task.ConfigureAwait(false);
            if (written)
            {
                return me.Result();
            }
        }

        await LeadAsync(me, io).ConfigureAwait(false);
        return me.Result();
    }

    /// <summary>
    /// Whether a failed write may still have landed: a log in a database whose connection was lost (or timed out) after the
    /// write was sent, or an unexpected failure (a driver's bug) anywhere. A connection that could not be opened, or a log
    /// file that refused the write, recorded nothing.
    /// </summary>
    public bool MayHaveLanded(TransactionLogException failure) =>
        failure.InnerException is { } cause
        && (cause is not (DbException or IOException or UnauthorizedAccessException or InvalidOperationException or TimeoutException)
            || (Folder is null && cause is not (DatabaseConnectionException or PoolTimeoutException)
                && _engine.Dialect.Classify(cause) is DatabaseErrorKind.ConnectionLost or DatabaseErrorKind.Timeout));

    /// <summary>Queues a finished transaction's decision for deletion, with a later flush or the background tick.</summary>
    public void Forget(string globalId)
    {
        lock (_lock)
        {
            _forgets.Add(globalId);
        }
    }

    /// <summary>Writes queued forgets now (a background tick, or disposal), unless a flush is under way.</summary>
    public async ValueTask FlushForgetsAsync(IOBehavior io)
    {
        List<string> forgets;
        lock (_lock)
        {
            if (_leading || _forgets.Count == 0)
            {
                return;
            }

            _leading = true;
            forgets = _forgets;
            _forgets = [];
        }

        try
        {
            await WriteAsync([], forgets, io).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or SwitchboardException or IOException or InvalidOperationException)
        {
            lock (_lock)
            {
                _forgets.AddRange(forgets);
            }
        }
        finally
        {
            HandOff();
        }
    }

    private async ValueTask LeadAsync(PendingDecision me, IOBehavior io)
    {
        List<PendingDecision> batch;
        List<string> forgets = [];
        lock (_lock)
        {
            batch = _queue;
            _queue = [];

            // Deletes ride along in bulk only: one at a time they would cost every flush a statement and more log pages.
            if (_forgets.Count >= ForgetBatch)
            {
                forgets = _forgets;
                _forgets = [];
            }
        }

        System.Diagnostics.Debug.Assert(batch.Contains(me), "the leader's own decision is in the batch it writes");
        try
        {
            await WriteAsync(batch, forgets, io).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Every failure, the unexpected ones too: a follower must never read an unset outcome as a recorded one.
            foreach (var p in batch)
            {
                p.Error = e;
            }

            lock (_lock)
            {
                _forgets.AddRange(forgets);
            }
        }
        finally
        {
            foreach (var p in batch)
            {
                if (p != me)
                {
                    p.Signal.TrySetResult(true);
                }
            }

            HandOff();
        }
    }

    private void HandOff()
    {
        PendingDecision? next;
        lock (_lock)
        {
            next = _queue.Count > 0 ? _queue[0] : null;
            _leading = next is not null;
        }

        next?.Signal.TrySetResult(false);
    }

    /// <summary>One transaction, one flush: every queued decision and forget. Only the leader runs it.</summary>
    private async ValueTask WriteAsync(List<PendingDecision> batch, List<string> forgets, IOBehavior io)
    {
        var writer = _writer ??= await Writer.OpenAsync(_engine, _sql, io).ConfigureAwait(false);
        try
        {
            await writer.WriteAsync(_engine, _sql, batch, forgets, io).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A broken connection is not reused: the next flush opens a new one. When the connection was lost, the pool's
            // idle connections went the same way as likely as not (a restart, a cut network path): they are dropped too, so
            // that the next write — the abort claim that settles this one — does not fail on one of them.
            _writer = null;
            if (_engine.Dialect.Classify(e) is DatabaseErrorKind.ConnectionLost or DatabaseErrorKind.Timeout)
            {
                writer.DiscardPool(_engine.Dialect);
            }

            await writer.DisposeAsync(io).ConfigureAwait(false);
            throw;
        }

        if (batch.Count > 0)
        {
            Interlocked.Increment(ref _flushes);
            Interlocked.Add(ref _decisions, batch.Count);
        }
    }

    /// <summary>Every decision the log holds (the table stays small: rows are forgotten once their transaction is complete).</summary>
    public ValueTask<IReadOnlyList<DecisionRecord>> ReadDecisionsAsync(IOBehavior io, CancellationToken cancellationToken) =>
        EngineWork.WithConnectionAsync(_engine, io, cancellationToken, connection => ReadDecisionsAsync(connection, _sql, io, cancellationToken));

    /// <summary>Reads every decision from a decision table (the log's, or a last resource's).</summary>
    public static async ValueTask<IReadOnlyList<DecisionRecord>> ReadDecisionsAsync(DbConnection connection, TransactionTableSql sql, IOBehavior io,
        CancellationToken cancellationToken)
    {
        var command = new CommandDefinition(sql.SelectDecisions, cancellationToken: cancellationToken);
        var rows = io == IOBehavior.Synchronous
            ? connection.Query<(string, string, string, long)>(command)
            : await connection.QueryAsync<(string, string, string, long)>(command).ConfigureAwait(false);
        return [.. rows.Select(r => new DecisionRecord(r.Item1, r.Item2[0], r.Item3, r.Item4))];
    }

    /// <summary>Deletes decisions right away (recovery's clean-up of transactions it found complete).</summary>
    public async ValueTask DeleteDecisionsAsync(IReadOnlyCollection<string> globalIds, IOBehavior io, CancellationToken cancellationToken)
    {
        if (globalIds.Count == 0)
        {
            return;
        }

        lock (_lock)
        {
            _forgets.AddRange(globalIds);
        }

        // Written by whichever flush comes first; wait for one here so the report is true when it is printed.
        await ForceFlushAsync(io, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask ForceFlushAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        // Bounded: a log that cannot be written now (or writers that keep queueing deletes) must not hold recovery; what is
        // left goes with a later flush.
        for (var attempt = 0; attempt < 100 && PendingForgets > 0; attempt++)
        {
            await FlushForgetsAsync(io).ConfigureAwait(false);
            if (PendingForgets > 0)
            {
                if (io == IOBehavior.Synchronous)
                {
                    Thread.Sleep(5);
                }
                else
                {
                    await Task.Delay(5, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    // What an incarnation row says about the process, for people reading it: host and pid, within the column's 200 characters.
    private static string ProcessName
    {
        get
        {
            var process = $"{Environment.MachineName}:{Environment.ProcessId}";
            return process.Length > 200 ? process[..200] : process;
        }
    }

    /// <summary>
    /// Registers a new run of this process; returns its id. <paramref name="claim"/> is called with each candidate id before
    /// it is written (to take the id's lock file), and returns false when the id is taken.
    /// </summary>
    public async ValueTask<string> RegisterIncarnationAsync(Func<string, bool> claim, IOBehavior io, CancellationToken cancellationToken)
    {
        var process = ProcessName;
        var connection = await _engine.OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var id = GlobalTransactionId.Base36(RandomNumberGenerator.GetInt32(int.MaxValue));
                if (!claim(id))
                {
                    // Taken by another run: among two billion ids, a hundred in a row means something else is wrong.
                    if (attempt >= 100)
                    {
                        throw new IOException($"No free incarnation id after {attempt + 1} attempts: every lock file tried already exists.");
                    }

                    continue;
                }

                try
                {
                    await ExecuteAsync(connection, null, _sql.InsertIncarnation,
                        new { id, process, now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, io, cancellationToken).ConfigureAwait(false);
                    return id;
                }
                catch (DbException e) when (attempt < 5 && _engine.Dialect.Classify(e) == DatabaseErrorKind.UniqueViolation)
                {
                }
            }
        }
        finally
        {
            await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Renews this process's heartbeat; false when its row was gone (another process's recovery took it for ended and
    /// deleted it), in which case the row is written again and the renewal does not count until the next one.
    /// </summary>
    public ValueTask<bool> HeartbeatAsync(string incarnation, IOBehavior io, CancellationToken cancellationToken) =>
        EngineWork.WithConnectionAsync(_engine, io, cancellationToken, async connection =>
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            if (await ExecuteAsync(connection, null, _sql.UpdateHeartbeat, new { id = incarnation, now }, io, cancellationToken).ConfigureAwait(false) > 0)
            {
                return true;
            }

            try
            {
                await ExecuteAsync(connection, null, _sql.InsertIncarnation, new { id = incarnation, process = ProcessName, now }, io, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (DbException e) when (_engine.Dialect.Classify(e) == DatabaseErrorKind.UniqueViolation)
            {
                // An earlier write of the row landed late: it is there. This renewal still does not count.
            }

            return false;
        });

    public ValueTask<IReadOnlyList<IncarnationRecord>> ReadIncarnationsAsync(IOBehavior io, CancellationToken cancellationToken) =>
        EngineWork.WithConnectionAsync<IReadOnlyList<IncarnationRecord>>(_engine, io, cancellationToken, async connection =>
        {
            var command = new CommandDefinition(_sql.SelectIncarnations, new { now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() },
                cancellationToken: cancellationToken);
            var rows = io == IOBehavior.Synchronous
                ? connection.Query<(string, string, long, long, long)>(command)
                : await connection.QueryAsync<(string, string, long, long, long)>(command).ConfigureAwait(false);
            return [.. rows.Select(r => new IncarnationRecord(r.Item1, r.Item2, r.Item3, r.Item4, r.Item5))];
        });

    public ValueTask<int> DeleteIncarnationAsync(string incarnation, IOBehavior io, CancellationToken cancellationToken) =>
        EngineWork.WithConnectionAsync(_engine, io, cancellationToken,
            connection => ExecuteAsync(connection, null, _sql.DeleteIncarnation,
                new { id = incarnation, now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), staleMs = (long)TransactionCoordinator.HeartbeatTimeout.TotalMilliseconds },
                io, cancellationToken));

    public ValueTask DisposeAsync() => DisposeAsync(IOBehavior.Asynchronous);

    public async ValueTask DisposeAsync(IOBehavior io)
    {
        try
        {
            await FlushForgetsAsync(io).ConfigureAwait(false);
        }
        finally
        {
            if (_writer is { } writer)
            {
                _writer = null;
                await writer.DisposeAsync(io).ConfigureAwait(false);
            }

            if (_ownsEngine)
            {
                if (io == IOBehavior.Synchronous)
                {
                    _engine.Dispose();
                }
                else
                {
                    await _engine.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    internal static async ValueTask<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, object? parameters, IOBehavior io,
        CancellationToken cancellationToken)
    {
        var command = new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken);
        return io == IOBehavior.Synchronous
            ? connection.Execute(command)
            : await connection.ExecuteAsync(command).ConfigureAwait(false);
    }

    internal static async ValueTask<T?> QueryFirstAsync<T>(DbConnection connection, DbTransaction? transaction, string sql, object? parameters, IOBehavior io,
        CancellationToken cancellationToken)
    {
        var command = new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken);
        return io == IOBehavior.Synchronous
            ? connection.QueryFirstOrDefault<T>(command)
            : await connection.QueryFirstOrDefaultAsync<T>(command).ConfigureAwait(false);
    }

    /// <summary>
    /// The leader's connection and statements, kept open from one flush to the next so that a flush costs the statements
    /// and the commit's flush only (a log in a database holds one of that database's connections while the log is open).
    /// </summary>
    private sealed class Writer
    {
        private Writer(DbConnection connection, DbCommand insert, DbCommand delete)
        {
            Connection = connection;
            Insert = insert;
            Delete = delete;
        }

        private DbConnection Connection { get; }

        private DbCommand Insert { get; }

        private DbCommand Delete { get; }

        public static async ValueTask<Writer> OpenAsync(DatabaseEngine engine, TransactionTableSql sql, IOBehavior io)
        {
            var connection = await engine.OpenConnectionAsync(io, CancellationToken.None).ConfigureAwait(false);
            try
            {
                foreach (var statement in sql.LogConnectionSetup)
                {
                    await ExecuteAsync(connection, null, statement, null, io, CancellationToken.None).ConfigureAwait(false);
                }

                return new Writer(connection, Command(connection, sql.InsertDecisionIfAbsent, "gtid", "outcome", "participants", "decided"),
                    Command(connection, sql.DeleteDecision, "gtid"));
            }
            catch
            {
                await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
                throw;
            }
        }

        public ValueTask<bool> WriteAsync(DatabaseEngine engine, TransactionTableSql sql, List<PendingDecision> batch, List<string> forgets, IOBehavior io) =>
            EngineWork.InTransactionAsync(engine, Connection, io, CancellationToken.None, async transaction =>
            {
                var async = io == IOBehavior.Asynchronous;
                foreach (var statement in sql.LogTransactionSetup)
                {
                    await ExecuteAsync(Connection, transaction, statement, null, io, CancellationToken.None).ConfigureAwait(false);
                }

                var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                foreach (var p in batch)
                {
                    Insert.Transaction = transaction;
                    Insert.Parameters[0].Value = p.GlobalId;
                    Insert.Parameters[1].Value = p.Outcome.ToString();
                    Insert.Parameters[2].Value = p.Participants;
                    Insert.Parameters[3].Value = now;
                    var inserted = async ? await Insert.ExecuteNonQueryAsync().ConfigureAwait(false) : Insert.ExecuteNonQuery();

                    // Not inserted: a decision was there first (recovery's abort, or a retried write); that one stands.
                    p.Recorded = inserted == 1
                        ? p.Outcome
                        : (await QueryFirstAsync<string>(Connection, transaction, sql.SelectDecision, new { gtid = p.GlobalId }, io, CancellationToken.None)
                            .ConfigureAwait(false))?[0] ?? p.Outcome;
                }

                foreach (var gtid in forgets)
                {
                    Delete.Transaction = transaction;
                    Delete.Parameters[0].Value = gtid;
                    _ = async ? await Delete.ExecuteNonQueryAsync().ConfigureAwait(false) : Delete.ExecuteNonQuery();
                }

                return true;
            });

        /// <summary>Drops the pool this writer's connection came from (its idle connections close, the rest when returned).</summary>
        public void DiscardPool(Dialect dialect) => dialect.ClearPool(Connection);

        public async ValueTask DisposeAsync(IOBehavior io)
        {
            Insert.Dispose();
            Delete.Dispose();
            await DatabaseEngine.CloseAsync(Connection, io).ConfigureAwait(false);
        }

        private static DbCommand Command(DbConnection connection, string sql, params string[] parameters)
        {
            var command = connection.CreateCommand();
            command.CommandText = sql;
            foreach (var name in parameters)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = "@" + name;
                command.Parameters.Add(parameter);
            }

            return command;
        }
    }

    private sealed class PendingDecision(string globalId, char outcome, string participants)
    {
        public string GlobalId { get; } = globalId;

        public char Outcome { get; } = outcome;

        public string Participants { get; } = participants;

        /// <summary>true: written by a leader; false: this writer leads now.</summary>
        public TaskCompletionSource<bool> Signal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public char Recorded { get; set; }

        public Exception? Error { get; set; }

        public char Result() => Error is null
            ? Recorded
            : throw new TransactionLogException($"The transaction log could not record the decision for {GlobalId}: {Error.Message}", Error);
    }
}

/// <summary>The coordinator log could not be opened, written or read (the inner exception says why).</summary>
public sealed class TransactionLogException : SwitchboardException
{
    internal TransactionLogException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
