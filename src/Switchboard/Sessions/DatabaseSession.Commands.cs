using System.Data.Common;
using Dapper;

namespace Switchboard;

/// <summary>
/// Parameterised helpers over Dapper. Each runs inside the session's transaction with the session's command timeout,
/// and turns a driver error into <see cref="DatabaseCommandException"/> naming the database. Rows are mapped by Dapper.
/// </summary>
public sealed partial class DatabaseSession
{
    /// <summary>Runs a statement and returns the number of rows affected.</summary>
    public int Execute(string sql, object? parameters = null) =>
        Run(static (c, d) => c.Execute(d), sql, parameters);

    /// <inheritdoc cref="Execute"/>
    public Task<int> ExecuteAsync(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        RunAsync(static (c, d) => c.ExecuteAsync(d), sql, parameters, cancellationToken);

    /// <summary>Runs a query and returns every row, mapped to <typeparamref name="T"/>.</summary>
    public IReadOnlyList<T> Query<T>(string sql, object? parameters = null) =>
        Run(static (c, d) => (IReadOnlyList<T>)c.Query<T>(d).AsList(), sql, parameters);

    /// <inheritdoc cref="Query{T}"/>
    public Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        RunAsync(static async (c, d) => (IReadOnlyList<T>)(await c.QueryAsync<T>(d).ConfigureAwait(false)).AsList(), sql, parameters, cancellationToken);

    /// <summary>Runs a query that must return exactly one row.</summary>
    public T QuerySingle<T>(string sql, object? parameters = null) =>
        Run(static (c, d) => c.QuerySingle<T>(d), sql, parameters);

    /// <inheritdoc cref="QuerySingle{T}"/>
    public Task<T> QuerySingleAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        RunAsync(static (c, d) => c.QuerySingleAsync<T>(d), sql, parameters, cancellationToken);

    /// <summary>Runs a query and returns its first row, or the default value when there is none.</summary>
    public T? QueryFirstOrDefault<T>(string sql, object? parameters = null) =>
        Run(static (c, d) => c.QueryFirstOrDefault<T>(d), sql, parameters);

    /// <inheritdoc cref="QueryFirstOrDefault{T}"/>
    public Task<T?> QueryFirstOrDefaultAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        RunAsync(static (c, d) => c.QueryFirstOrDefaultAsync<T?>(d), sql, parameters, cancellationToken);

    /// <summary>Runs a query and returns the first column of the first row.</summary>
    public T? ExecuteScalar<T>(string sql, object? parameters = null) =>
        Run(static (c, d) => c.ExecuteScalar<T>(d), sql, parameters);

    /// <inheritdoc cref="ExecuteScalar{T}"/>
    public Task<T?> ExecuteScalarAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        RunAsync(static (c, d) => c.ExecuteScalarAsync<T?>(d), sql, parameters, cancellationToken);

    private TimeSpan CommandTimeout => Options.CommandTimeout ?? _engine.Definition.CommandTimeout;

    private CommandDefinition Command(string sql, object? parameters, CancellationToken cancellationToken) =>
        new(sql, parameters, _transaction, Math.Max(1, (int)CommandTimeout.TotalSeconds), cancellationToken: cancellationToken);

    private TResult Run<TResult>(Func<DbConnection, CommandDefinition, TResult> body, string sql, object? parameters)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var connection = Connection;
        ThrowIfInterrupted();
        using var guard = StatementGuard.Start(_engine.Dialect, connection, CommandTimeout, CancellationToken.None);
        try
        {
            return body(connection, Command(sql, parameters, CancellationToken.None));
        }
        catch (Exception e) when (guard?.TimedOut == true)
        {
            _statementFailed = _interrupted = true;
            throw Remember(Wrap("Statement", TimedOut(e)));
        }
        catch (Exception e) when (e is DbException or TimeoutException)
        {
            _statementFailed = true;
            throw Remember(Wrap("Statement", e));
        }
    }

    private async Task<TResult> RunAsync<TResult>(Func<DbConnection, CommandDefinition, Task<TResult>> body, string sql, object? parameters,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        ThrowIfInterrupted();
        using var guard = StatementGuard.Start(_engine.Dialect, connection, CommandTimeout, cancellationToken);
        try
        {
            return await body(connection, Command(sql, parameters, cancellationToken)).ConfigureAwait(false);
        }
        catch (Exception e) when (guard?.TimedOut == true && !cancellationToken.IsCancellationRequested)
        {
            _statementFailed = _interrupted = true;
            throw Remember(Wrap("Statement", TimedOut(e)));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // PostgreSQL aborts the transaction of a cancelled statement: Commit must not turn into a silent rollback.
            _statementFailed = true;
            _interrupted |= guard is not null;
            throw;
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
    }

    private DatabaseCommandException Remember(DatabaseCommandException failure)
    {
        _firstFailure ??= failure;
        return failure;
    }

    /// <summary>
    /// After a statement the session interrupted itself (SQLite), the transaction may be gone: SQLite rolls the whole
    /// transaction back when it interrupts a write, and later statements would then run outside any transaction.
    /// </summary>
    private void ThrowIfInterrupted()
    {
        if (_interrupted)
        {
            throw new InvalidOperationException(
                $"A statement on database '{DatabaseName}' was interrupted (command timeout or cancellation), which may have rolled back the whole " +
                "transaction: roll back (or dispose) the session before running more statements.");
        }
    }

    /// <summary>A statement the session interrupted at its command timeout: a timeout, with the driver's error inside.</summary>
    private TimeoutException TimedOut(Exception interrupted) =>
        new($"The statement ran longer than the command timeout ({CommandTimeout.TotalSeconds:0.###} s) and was interrupted.", interrupted);
}
