using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Extensions.Logging;
using Switchboard.Internal;

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
    private DbConnection? _connection;
    private DbTransaction? _transaction;
    private bool _statementFailed;
    private bool _disposed;

    // lease: keeps an engine that can be evicted (a tenant's) in memory until the session is disposed.
    internal DatabaseSession(DatabaseEngine engine, SessionOptions options, ILogger logger, IDisposable? lease = null)
    {
        _engine = engine;
        Options = options;
        _logger = logger;
        _lease = lease;
    }

    /// <summary>The named database this session works on.</summary>
    public string DatabaseName => _engine.Name;

    public DatabaseEngine Engine => _engine;

    public SessionOptions Options { get; }

    /// <summary>Whether a transaction is open (work has been done since the last commit or rollback).</summary>
    public bool IsActive => _transaction is not null;

    /// <summary>The open connection, opening it and beginning the transaction on first use (blocking; prefer <see cref="GetConnectionAsync"/> in async code).</summary>
    public DbConnection Connection => _connection ?? BeginAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    /// <summary>The open transaction, beginning it on first use. Pass it to every command run on <see cref="Connection"/>.</summary>
    public DbTransaction Transaction
    {
        get
        {
            if (_transaction is null)
            {
                BeginAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();
            }

            return _transaction!;
        }
    }

    /// <summary>The open connection, opening it and beginning the transaction on first use.</summary>
    public ValueTask<DbConnection> GetConnectionAsync(CancellationToken cancellationToken = default) =>
        _connection is { } c ? new(c) : BeginAsync(IOBehavior.Asynchronous, cancellationToken);

    /// <summary>The open transaction, beginning it on first use.</summary>
    public async ValueTask<DbTransaction> GetTransactionAsync(CancellationToken cancellationToken = default)
    {
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

    private async ValueTask<DbConnection> BeginAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var connection = await _engine.OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
        try
        {
            _transaction = await _engine.Dialect.BeginTransactionAsync(connection, _engine.Definition, Options.IsolationLevel,
                Options.Intent == SessionIntent.ReadOnly, io == IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or ArgumentException)
        {
            await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
            throw Wrap("BEGIN", e);
        }

        _connection = connection;
        _statementFailed = false;
        return connection;
    }

    private async ValueTask CommitAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_transaction is not { } transaction)
        {
            return; // nothing was done since the last commit or rollback
        }

        if (_statementFailed && _engine.Dialect.TransactionAbortsOnError)
        {
            // PostgreSQL answers COMMIT of an aborted transaction with a silent ROLLBACK; say so instead.
            await ReleaseAsync(io, rollBack: true).ConfigureAwait(false);
            throw new InvalidOperationException(
                $"Cannot commit on database '{DatabaseName}': a statement failed in this transaction, so the server aborted it. The transaction has been rolled back.");
        }

        try
        {
            if (io == IOBehavior.Synchronous)
            {
                transaction.Commit();
            }
            else
            {
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException)
        {
            await ReleaseAsync(io, rollBack: false).ConfigureAwait(false);
            throw Wrap("COMMIT", e);
        }

        await ReleaseAsync(io, rollBack: false).ConfigureAwait(false);
    }

    private async ValueTask RollbackAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_transaction is not { } transaction)
        {
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
            await ReleaseAsync(io, rollBack: false).ConfigureAwait(false);
            throw Wrap("ROLLBACK", e);
        }

        await ReleaseAsync(io, rollBack: false).ConfigureAwait(false);
    }

    private async ValueTask DisposeAsync(IOBehavior io)
    {
        if (_disposed)
        {
            return;
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
        _connection = null;
        _transaction = null;
        _statementFailed = false;
        if (connection is null)
        {
            return;
        }

        try
        {
            if (transaction is not null)
            {
                if (rollBack && transaction.Connection is not null)
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
            await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
        }
    }

    private DatabaseCommandException Wrap(string operation, Exception e)
    {
        var kind = _engine.Dialect.Classify(e);
        var op = operation == "COMMIT" && kind == DatabaseErrorKind.ConnectionLost
            ? "COMMIT (outcome unknown: the connection was lost while committing)"
            : operation;
        return new DatabaseCommandException(DatabaseName, op, kind, e, _engine.Definition.Secrets);
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Session on {Database} disposed with an open transaction: rolled back")]
    private static partial void LogRolledBackOnDispose(ILogger logger, string database);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Session on {Database}: rollback during dispose failed ({ErrorType}); the connection was discarded")]
    private static partial void LogDisposeFailed(ILogger logger, string database, string errorType);
}
