using System.Data;
using System.Data.Common;
using Dapper;
using Switchboard.Internal;

namespace Switchboard;

/// <summary>
/// Parameterised helpers over Dapper. Each runs inside the session's transaction with the session's command timeout,
/// and turns a driver error into <see cref="DatabaseCommandException"/> naming the database. Rows are mapped by Dapper.
/// </summary>
public sealed partial class DatabaseSession
{
    /// <summary>Runs a statement and returns the number of rows affected.</summary>
    public int Execute(string sql, object? parameters = null) =>
        RunAsync(IOBehavior.Synchronous, Statements.Execute, sql, parameters, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="Execute"/>
    public Task<int> ExecuteAsync(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        RunAsync(IOBehavior.Asynchronous, Statements.Execute, sql, parameters, cancellationToken);

    /// <summary>Runs a query and returns every row, mapped to <typeparamref name="T"/>.</summary>
    public IReadOnlyList<T> Query<T>(string sql, object? parameters = null) =>
        RunAsync(IOBehavior.Synchronous, Statements.Query<T>, sql, parameters, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="Query{T}"/>
    public Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        RunAsync(IOBehavior.Asynchronous, Statements.Query<T>, sql, parameters, cancellationToken);

    /// <summary>Runs a query that must return exactly one row.</summary>
    public T QuerySingle<T>(string sql, object? parameters = null) =>
        RunAsync(IOBehavior.Synchronous, Statements.QuerySingle<T>, sql, parameters, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="QuerySingle{T}"/>
    public Task<T> QuerySingleAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        RunAsync(IOBehavior.Asynchronous, Statements.QuerySingle<T>, sql, parameters, cancellationToken);

    /// <summary>Runs a query and returns its first row, or the default value when there is none.</summary>
    public T? QueryFirstOrDefault<T>(string sql, object? parameters = null) =>
        RunAsync(IOBehavior.Synchronous, Statements.QueryFirstOrDefault<T>, sql, parameters, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="QueryFirstOrDefault{T}"/>
    public Task<T?> QueryFirstOrDefaultAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        RunAsync(IOBehavior.Asynchronous, Statements.QueryFirstOrDefault<T>, sql, parameters, cancellationToken);

    /// <summary>Runs a query and returns the first column of the first row.</summary>
    public T? ExecuteScalar<T>(string sql, object? parameters = null) =>
        RunAsync(IOBehavior.Synchronous, Statements.ExecuteScalar<T>, sql, parameters, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="ExecuteScalar{T}"/>
    public Task<T?> ExecuteScalarAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        RunAsync(IOBehavior.Asynchronous, Statements.ExecuteScalar<T>, sql, parameters, cancellationToken);

    private TimeSpan CommandTimeout => Options.CommandTimeout ?? _engine.Definition.CommandTimeout;

    private CommandDefinition Command(string sql, object? parameters, CancellationToken cancellationToken) =>
        new(sql, parameters, _transaction, Math.Max(1, (int)_engine.Dialect.DriverCommandTimeout(CommandTimeout).TotalSeconds), cancellationToken: cancellationToken);

    /// <summary>
    /// Every helper's one code path: the synchronous helpers pass <see cref="IOBehavior.Synchronous"/> and an unset token,
    /// so the body calls Dapper's blocking methods and the task is complete on return.
    /// </summary>
    private async Task<TResult> RunAsync<TResult>(IOBehavior io, Func<DbConnection, CommandDefinition, IOBehavior, ValueTask<TResult>> body, string sql,
        object? parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sql);
        DbConnection connection;
        try
        {
            connection = _connection ?? await BeginAsync(io, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException($"A statement on database '{DatabaseName}' was cancelled before it started (while the session got its connection).",
                e, cancellationToken);
        }

        ThrowIfInterrupted();
        if (connection.State != ConnectionState.Open)
        {
            // Closed under the session (lost, or closed by MySql.Data when a raw command timed out). Dapper would open it
            // again, outside the transaction, and the statement would commit on its own.
            _statementFailed = true;
            throw _rolledBackBy = Remember(ConnectionClosed("Statement"));
        }

        using var guard = StatementGuard.Start(_engine.Dialect, connection, CommandTimeout, cancellationToken);
        TResult result;
        try
        {
            result = await body(connection, Command(sql, parameters, cancellationToken), io).ConfigureAwait(false);
        }
        catch (Exception e) when (guard?.TimedOut == true && !cancellationToken.IsCancellationRequested)
        {
            _statementFailed = _interrupted = true;
            throw Remember(Wrap("Statement", TimedOut(e)));
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            // PostgreSQL aborts the transaction of a cancelled statement: Commit must not turn into a silent rollback.
            _statementFailed = true;
            _interrupted |= guard is not null;
            throw new OperationCanceledException($"A statement on database '{DatabaseName}' was cancelled.", e, cancellationToken);
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested)
        {
            // Cancelled: whatever the driver threw for it (MySql.Data 8.0 can throw a NullReferenceException, or
            // "query execution was interrupted"), the caller hears a cancellation, as Npgsql reports it.
            _statementFailed = true;
            _interrupted |= guard is not null;
            if (e is not DbException)
            {
                // A driver that failed this way may have left the connection in any state: it is not pooled again.
                _engine.Dialect.ClearPool(connection);
            }

            throw new OperationCanceledException($"A statement on database '{DatabaseName}' was cancelled.", e, cancellationToken);
        }
        catch (Exception e) when (e is DbException or TimeoutException)
        {
            _statementFailed = true;
            throw Remember(Wrap("Statement", e));
        }

        if (guard is not null && (guard.TimedOut || cancellationToken.IsCancellationRequested))
        {
            // Interrupted (by the session at the deadline, or by the driver on cancellation), yet it answered: MySQL's SLEEP
            // returns 1 when killed, and MySql.Data then does not always throw. It still ran too long, or was cancelled.
            _statementFailed = _interrupted = true;
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException($"A statement on database '{DatabaseName}' was cancelled.", cancellationToken);
            }

            throw Remember(Wrap("Statement", TimedOut(null)));
        }

        return result;
    }

    private DatabaseCommandException Remember(DatabaseCommandException failure)
    {
        _firstFailure ??= failure;
        if (_engine.Dialect.RollsBackTransactionOn(failure.Kind))
        {
            _rolledBackBy ??= failure;
        }

        return failure;
    }

    /// <summary>
    /// After a statement the session interrupted itself (SQLite), the transaction may be gone: SQLite rolls the whole
    /// transaction back when it interrupts a write, and later statements would then run outside any transaction. The same
    /// after a failure on which the server rolled the transaction back (a MySQL deadlock).
    /// </summary>
    private void ThrowIfInterrupted()
    {
        if (_rolledBackBy is { } cause)
        {
            throw new InvalidOperationException(
                $"The server rolled back the whole transaction on database '{DatabaseName}' when a statement failed ({cause.Kind}), and later statements " +
                "would run outside any transaction: roll back (or dispose) the session, then run the transaction again.");
        }

        if (_interrupted)
        {
            throw new InvalidOperationException(
                $"A statement on database '{DatabaseName}' was interrupted (command timeout or cancellation), which may have rolled back the whole " +
                "transaction: roll back (or dispose) the session before running more statements.");
        }
    }

    /// <summary>A statement the session interrupted at its command timeout: a timeout, with the driver's error inside.</summary>
    private TimeoutException TimedOut(Exception? interrupted) => StatementGuard.TimedOutError(CommandTimeout, interrupted);

    /// <summary>The Dapper call behind each helper, blocking or asynchronous as the caller's path asks.</summary>
    private static class Statements
    {
        public static ValueTask<int> Execute(DbConnection c, CommandDefinition d, IOBehavior io) =>
            io == IOBehavior.Asynchronous ? new(c.ExecuteAsync(d)) : new(c.Execute(d));

        public static async ValueTask<IReadOnlyList<T>> Query<T>(DbConnection c, CommandDefinition d, IOBehavior io) =>
            (io == IOBehavior.Asynchronous ? await c.QueryAsync<T>(d).ConfigureAwait(false) : c.Query<T>(d)).AsList();

        public static ValueTask<T> QuerySingle<T>(DbConnection c, CommandDefinition d, IOBehavior io) =>
            io == IOBehavior.Asynchronous ? new(c.QuerySingleAsync<T>(d)) : new(c.QuerySingle<T>(d));

        public static ValueTask<T?> QueryFirstOrDefault<T>(DbConnection c, CommandDefinition d, IOBehavior io) =>
            io == IOBehavior.Asynchronous ? new(c.QueryFirstOrDefaultAsync<T?>(d)) : new(c.QueryFirstOrDefault<T>(d));

        public static ValueTask<T?> ExecuteScalar<T>(DbConnection c, CommandDefinition d, IOBehavior io) =>
            io == IOBehavior.Asynchronous ? new(c.ExecuteScalarAsync<T?>(d)) : new(c.ExecuteScalar<T>(d));
    }
}
