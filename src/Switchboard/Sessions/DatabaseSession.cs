using System.Data;
using System.Data.Common;
using System.Diagnostics;
using Dapper;
using Microsoft.Extensions.Logging;
using Switchboard.Diagnostics;
using Switchboard.Internal;
using Switchboard.Routing;

namespace Switchboard;

/// <summary>
/// A unit of work on one named database: SQLAlchemy's <c>sessionmaker(autocommit=False)</c> session. The connection and
/// the transaction open on first use; <see cref="Commit"/> and <see cref="Rollback"/> end the transaction and return the
/// connection to the pool (the next use begins a new one); disposing without committing rolls back.
/// <see cref="Connection"/> and <see cref="Transaction"/> are plain ADO.NET objects, so Dapper and raw ADO.NET work unchanged.
/// A session is not thread-safe: use one per logical operation.
/// </summary>
public sealed partial class DatabaseSession : IDisposable, IAsyncDisposable
{
    private readonly DatabaseEngine _engine;
    private readonly ILogger _logger;
    private readonly IDisposable? _lease;
    private readonly SessionRoute? _route;
    private DbConnection? _connection;
    private DbTransaction? _transaction;
    private bool _statementFailed;

    // Whether the caller was given the connection or transaction: statements run on them directly may have failed
    // without the session's knowing, so the commit then checks whether the server aborted the transaction.
    private bool _handedOut;

    // The first statement failure of the transaction, for a distributed commit's report (a server may refuse to prepare
    // a branch because of it). Not for rethrowing: the caller already had it.
    private DatabaseCommandException? _firstFailure;
    private bool _disposed;

    // Telemetry of the open transaction: its span (null unless someone listens) and whether it was counted as active.
    private Activity? _activity;
    private bool _countedActive;

    // Set while a distributed transaction owns this session's connection and transaction (Transactions/).
    private string? _distributedId;

    // lease: keeps an engine that can be evicted (a tenant's) in memory until the session is disposed.
    internal DatabaseSession(DatabaseEngine engine, SessionOptions options, ILogger logger, IDisposable? lease = null)
    {
        _engine = engine;
        Options = options;
        _logger = logger;
        _lease = lease;
        _route = SessionRoute.Create(engine, options);
        if (SwitchboardTelemetry.SessionsOpened.Enabled)
        {
            SwitchboardTelemetry.SessionsOpened.Add(1, engine.Telemetry.SessionTags(options.Intent));
        }
    }

    /// <summary>The named database this session works on.</summary>
    public string DatabaseName => _engine.Name;

    public DatabaseEngine Engine => _engine;

    public SessionOptions Options { get; }

    /// <summary>Whether a transaction is open (work has been done since the last commit or rollback).</summary>
    public bool IsActive => _transaction is not null || _distributedId is not null;

    /// <summary>
    /// Where the open transaction runs, or after a commit or rollback where the last one ran, without credentials (on a
    /// replicated database, the host it was routed to); null before the first transaction.
    /// </summary>
    public string? Target => _connection is null ? _lastTarget : RoutedTarget;

    // Kept when the transaction ends, so that "where did my write go" can be logged after the commit.
    private string? _lastTarget;

    // A statement the session interrupted itself (SQLite): the transaction may have been rolled back under it.
    private bool _interrupted;

    // A failure on which the server rolled back the whole transaction (a MySQL deadlock): later statements would autocommit.
    private DatabaseCommandException? _rolledBackBy;

    // The host (and database) this session's statements go to: on a replicated database, the one it was routed to.
    private string RoutedTarget => _route?.Host?.Target ?? _engine.Definition.Target;

    /// <summary>The open connection, opening it and beginning the transaction on first use (blocking; prefer <see cref="GetConnectionAsync"/> in async code).</summary>
    public DbConnection Connection
    {
        get
        {
            _handedOut = true;
            return _connection ?? BeginAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();
        }
    }

    /// <summary>The open transaction, beginning it on first use. Pass it to every command run on <see cref="Connection"/>.</summary>
    public DbTransaction Transaction
    {
        get
        {
            ThrowIfBranchWithoutTransaction();
            _handedOut = true;
            if (_transaction is null)
            {
                BeginAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();
            }

            return _transaction!;
        }
    }

    /// <summary>The open connection, opening it and beginning the transaction on first use.</summary>
    public ValueTask<DbConnection> GetConnectionAsync(CancellationToken cancellationToken = default)
    {
        _handedOut = true;
        return _connection is { } c ? new(c) : BeginAsync(IOBehavior.Asynchronous, cancellationToken);
    }

    /// <summary>The open transaction, beginning it on first use.</summary>
    public async ValueTask<DbTransaction> GetTransactionAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfBranchWithoutTransaction();
        _handedOut = true;
        if (_transaction is null)
        {
            await BeginAsync(IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
        }

        return _transaction!;
    }

    public void Commit() => CommitAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    public Task CommitAsync(CancellationToken cancellationToken = default) =>
        CommitAsync(IOBehavior.Asynchronous, cancellationToken).AsTask();

    public void Rollback() => RollbackAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    public Task RollbackAsync(CancellationToken cancellationToken = default) =>
        RollbackAsync(IOBehavior.Asynchronous, cancellationToken).AsTask();

    public void Dispose() => DisposeAsync(IOBehavior.Synchronous).GetCompletedResult();

    public ValueTask DisposeAsync() => DisposeAsync(IOBehavior.Asynchronous);

    /// <summary>
    /// Hands the session a connection and a transaction branch begun by a distributed transaction, which from then on
    /// owns them: the session's own commit and rollback refuse, and disposing it does nothing.
    /// </summary>
    internal void Enlist(DbConnection connection, DbTransaction? transaction, string distributedId)
    {
        _connection = connection;
        _transaction = transaction;
        _distributedId = distributedId;
    }

    /// <summary>Gives the connection and branch back to the distributed transaction; the session is finished afterwards.</summary>
    internal (DbConnection? Connection, DbTransaction? Transaction, bool StatementFailed, DatabaseCommandException? FirstFailure) Unenlist()
    {
        var result = (_connection, _transaction, _statementFailed, _firstFailure);
        _connection = null;
        _transaction = null;
        _disposed = true;
        return result;
    }

    private void ThrowIfDistributed(string operation)
    {
        if (_distributedId is not null)
        {
            throw new InvalidOperationException(
                $"The session on database '{DatabaseName}' belongs to distributed transaction {_distributedId}: {operation} the DistributedTransaction instead.");
        }
    }

    private void ThrowIfBranchWithoutTransaction()
    {
        if (_distributedId is not null && _transaction is null && !_disposed)
        {
            throw new InvalidOperationException(
                $"The session on database '{DatabaseName}' is an XA branch of distributed transaction {_distributedId}, which has no ADO.NET transaction object: "
                + "run commands on Connection with no transaction, or use the session's Execute and Query helpers.");
        }
    }

    private async ValueTask<DbConnection> BeginAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        if (_distributedId is not null)
        {
            throw new InvalidOperationException(
                $"Distributed transaction {_distributedId} has ended, and with it its session on database '{DatabaseName}': begin a new transaction.");
        }

        ObjectDisposedException.ThrowIf(_disposed, this);

        // The span starts before the checkout so that waiting for a pooled connection shows in the trace.
        var activity = _engine.Telemetry.StartSession(Options.Intent);
        DbConnection connection;
        try
        {
            connection = await _engine.OpenConnectionAsync(_route, io, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (activity is not null)
        {
            SwitchboardTelemetry.SetError(activity, e);
            activity.Stop();
            throw;
        }

        try
        {
            _transaction = await _engine.Dialect.BeginTransactionAsync(connection, _engine.Definition, Options.IsolationLevel,
                Options.Intent == SessionIntent.ReadOnly, io == IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Whatever ends BEGIN (a cancellation too), the connection goes back to the pool: nothing else holds it.
            await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
            var wrapped = e is DbException or InvalidOperationException or ArgumentException ? Wrap("BEGIN", e) : null;
            SwitchboardTelemetry.SetError(activity, wrapped ?? e);
            activity?.Stop();
            if (wrapped is null)
            {
                throw;
            }

            throw wrapped;
        }

        _connection = connection;
        _statementFailed = false;
        _firstFailure = null;
        _activity = activity;
        if (SwitchboardTelemetry.SessionsActive.Enabled)
        {
            SwitchboardTelemetry.SessionsActive.Add(1, _engine.Telemetry.MetricTags);
            _countedActive = true;
        }

        return connection;
    }

    private async ValueTask CommitAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        ThrowIfDistributed("commit");
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_transaction is not { } transaction)
        {
            return; // nothing was done since the last commit or rollback
        }

        if (_statementFailed && (_engine.Dialect.TransactionAbortsOnError || _interrupted || _rolledBackBy is not null))
        {
            // PostgreSQL answers COMMIT of an aborted transaction with a silent ROLLBACK, SQLite may have rolled back already
            // when a write was interrupted, and MySQL has when it broke a deadlock: say so instead of committing whatever is left.
            var message = _interrupted
                ? $"Cannot commit on database '{DatabaseName}': a statement was interrupted (command timeout or cancellation), which may have rolled back the whole transaction. The transaction has been rolled back."
                : _rolledBackBy is { } cause
                ? $"Cannot commit on database '{DatabaseName}': the server rolled back the whole transaction when a statement failed ({cause.Kind}); its work was not committed. Run the transaction again."
                : $"Cannot commit on database '{DatabaseName}': a statement failed in this transaction, so the server aborted it. The transaction has been rolled back.";
            await ReleaseAsync(io, rollBack: true).ConfigureAwait(false);
            throw new InvalidOperationException(message);
        }

        if (_connection is { State: not ConnectionState.Open })
        {
            // MySql.Data closes the connection when a command times out; a lost connection ends the same way. COMMIT is
            // not sent, and the server rolled the transaction back when the connection went.
            var closed = ConnectionClosed("COMMIT (not sent)");
            SwitchboardTelemetry.SetError(_activity, closed);
            await ReleaseAsync(io, rollBack: false).ConfigureAwait(false);
            throw closed;
        }

        var span = _engine.Telemetry.StartEnd(commit: true, _activity);
        bool landed;
        try
        {
            landed = await _engine.Dialect.CommitTransactionAsync(_connection!, transaction, checkAborted: _handedOut, io == IOBehavior.Asynchronous,
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException)
        {
            var error = Wrap("COMMIT", e);
            SwitchboardTelemetry.SetError(span, error);
            SwitchboardTelemetry.SetError(_activity, error);
            span?.Dispose();
            await ReleaseAsync(io, rollBack: false).ConfigureAwait(false);
            throw error;
        }

        if (!landed)
        {
            // A statement run on the connection directly failed (its error caught by the caller), and the server aborted the transaction.
            var error = new InvalidOperationException($"Cannot commit on database '{DatabaseName}': a statement failed in this transaction (one run on the "
                + "session's connection, whose error was caught), so the server aborted it and nothing was committed. The transaction has been rolled back.");
            SwitchboardTelemetry.SetError(span, error);
            SwitchboardTelemetry.SetError(_activity, error);
            span?.Dispose();
            await ReleaseAsync(io, rollBack: true).ConfigureAwait(false);
            throw error;
        }

        span?.Dispose();
        _activity?.SetTag(SwitchboardTelemetry.OutcomeTag, "committed");
        try
        {
            if (_route is not null && _connection is { } committed)
            {
                await _route.RecordCommitAsync(_engine, committed, io).ConfigureAwait(false);
            }
        }
        finally
        {
            await ReleaseAsync(io, rollBack: false).ConfigureAwait(false);
        }
    }

    private async ValueTask RollbackAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        ThrowIfDistributed("roll back");
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_transaction is not { } transaction)
        {
            return;
        }

        var span = _engine.Telemetry.StartEnd(commit: false, _activity);
        _activity?.SetTag(SwitchboardTelemetry.OutcomeTag, "rolled_back");
        if (_connection is { State: not ConnectionState.Open })
        {
            // Closed under the session (lost, or closed by the driver at a command timeout): the server has rolled back.
            span?.Dispose();
            await ReleaseAsync(io, rollBack: false).ConfigureAwait(false);
            return;
        }

        try
        {
            if (io == IOBehavior.Synchronous)
            {
                transaction.Rollback();
            }
            else
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException)
        {
            // The server rolls back by itself when the connection goes; the connection is discarded either way.
            var error = Wrap("ROLLBACK", e);
            SwitchboardTelemetry.SetError(span, error);
            span?.Dispose();
            await ReleaseAsync(io, rollBack: false).ConfigureAwait(false);
            throw error;
        }

        span?.Dispose();
        await ReleaseAsync(io, rollBack: false).ConfigureAwait(false);
    }

    private async ValueTask DisposeAsync(IOBehavior io)
    {
        if (_disposed || _distributedId is not null)
        {
            return; // a distributed transaction's session is released by the transaction
        }

        _disposed = true;
        if (_transaction is not null)
        {
            LogRolledBackOnDispose(_logger, DatabaseName);
        }

        try
        {
            await ReleaseAsync(io, rollBack: true).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException)
        {
            // Dispose must not throw; a failed rollback leaves nothing behind once the connection is closed.
            var errorType = e.GetType().Name;
            LogDisposeFailed(_logger, DatabaseName, errorType);
        }
        finally
        {
            _lease?.Dispose();
        }
    }

    /// <summary>Ends the transaction (rolling back if asked), undoes session state and returns the connection to the pool.</summary>
    private async ValueTask ReleaseAsync(IOBehavior io, bool rollBack)
    {
        var connection = _connection;
        var transaction = _transaction;
        if (connection is not null)
        {
            _lastTarget = RoutedTarget;
        }

        _connection = null;
        _transaction = null;
        _statementFailed = false;
        _firstFailure = null;
        _interrupted = false;
        _rolledBackBy = null;
        _handedOut = false;
        if (connection is null)
        {
            return;
        }

        try
        {
            if (transaction is not null)
            {
                // A closed connection (lost, or closed by the driver after a command timeout) has no transaction left on
                // the server to roll back: the server rolled it back when the connection went.
                if (rollBack && transaction.Connection is not null && connection.State == ConnectionState.Open)
                {
                    if (io == IOBehavior.Synchronous)
                    {
                        transaction.Rollback();
                    }
                    else
                    {
                        await transaction.RollbackAsync().ConfigureAwait(false);
                    }
                }

                if (io == IOBehavior.Synchronous)
                {
                    transaction.Dispose();
                }
                else
                {
                    await transaction.DisposeAsync().ConfigureAwait(false);
                }
            }

            if (connection.State == ConnectionState.Open)
            {
                await _engine.Dialect.ResetSessionStateAsync(connection, Options.Intent == SessionIntent.ReadOnly,
                    io == IOBehavior.Asynchronous, CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            EndTelemetry(rollBack);
            await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
        }
    }

    private void EndTelemetry(bool rolledBack)
    {
        if (_countedActive)
        {
            _countedActive = false;
            SwitchboardTelemetry.SessionsActive.Add(-1, _engine.Telemetry.MetricTags);
        }

        if (_activity is { } activity)
        {
            _activity = null;
            if (rolledBack)
            {
                activity.SetTag(SwitchboardTelemetry.OutcomeTag, "rolled_back");
            }

            activity.Stop();
        }
    }

    /// <summary>The session's connection was closed under it: its transaction is gone on the server.</summary>
    private DatabaseCommandException ConnectionClosed(string operation)
    {
        _route?.OnFailure(_engine, DatabaseErrorKind.ConnectionLost);
        return new DatabaseCommandException(DatabaseName, operation, DatabaseErrorKind.ConnectionLost,
            new InvalidOperationException("The session's connection had been closed (lost, or closed by the driver when a command run on it timed out), "
                + "and the server rolled back the transaction's work when it went; a statement run on that connection after it was reopened would have "
                + "run outside the transaction. Roll back the session and run the transaction again."),
            _engine.Definition.Secrets, RoutedTarget);
    }

    private DatabaseCommandException Wrap(string operation, Exception e)
    {
        var kind = _engine.Dialect.Classify(e);
        _route?.OnFailure(_engine, kind);
        var op = operation != "COMMIT" ? operation
            : kind == DatabaseErrorKind.ConnectionLost ? "COMMIT (outcome unknown: the connection was lost while committing)"
            : kind == DatabaseErrorKind.Timeout ? "COMMIT (outcome unknown: no answer within the command timeout)"
            : operation;
        return new DatabaseCommandException(DatabaseName, op, kind, e, _engine.Definition.Secrets, RoutedTarget);
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Session on {Database} disposed with an open transaction: rolled back")]
    private static partial void LogRolledBackOnDispose(ILogger logger, string database);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Session on {Database}: rollback during dispose failed ({ErrorType}); the connection was discarded")]
    private static partial void LogDisposeFailed(ILogger logger, string database, string errorType);
}
