using System.Data;
using System.Data.Common;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Switchboard.Dialects;
using Switchboard.Internal;

namespace Switchboard;

/// <summary>
/// The pool of one named database: owns the driver's data source and a checkout gate that bounds how many connections
/// are in use, so an exhausted pool fails with <see cref="PoolTimeoutException"/> naming the database instead of hanging.
/// Created lazily by the catalog, exactly once per database; disposed with the catalog.
/// </summary>
public sealed partial class DatabaseEngine : IDisposable, IAsyncDisposable
{
    private readonly DbDataSource _dataSource;
    private readonly SemaphoreSlim _gate;
    private readonly StateChangeEventHandler _onStateChange;
    private readonly ILogger _logger;
    private readonly IConnectionBudget? _budget;
    private string? _serverVersion;
    private int _waiting;
    private long _checkouts;
    private long _timeouts;
    private long _connectFailures;
    private int _disposed;

    internal DatabaseEngine(DatabaseDefinition definition, ILogger logger, IConnectionBudget? budget = null)
    {
        Definition = definition;
        _logger = logger;
        _budget = budget;
        _dataSource = definition.Dialect.CreateDataSource(definition);
        _gate = new SemaphoreSlim(definition.Pool.MaxSize, definition.Pool.MaxSize);
        _onStateChange = OnConnectionStateChange;
    }

    /// <summary>The database's configured name.</summary>
    public string Name => Definition.Name;

    public Dialect Dialect => Definition.Dialect;

    public DatabaseDefinition Definition { get; }

    /// <summary>
    /// The driver's own data source, for libraries that want one (EF Core, Dapper on raw connections).
    /// Connections opened from it directly are not counted by <see cref="GetPoolStatistics"/> or bounded by the checkout gate.
    /// </summary>
    public DbDataSource DataSource => _dataSource;

    /// <summary>The server's version, known after the first connection has opened (null before).</summary>
    public string? ServerVersion => _serverVersion;

    public PoolStatistics GetPoolStatistics()
    {
        var max = Definition.Pool.MaxSize;
        return new PoolStatistics(max, max - _gate.CurrentCount, Volatile.Read(ref _waiting), Interlocked.Read(ref _checkouts),
            Interlocked.Read(ref _timeouts), Interlocked.Read(ref _connectFailures));
    }

    /// <summary>Checks out an open connection. Closing or disposing it returns it to the pool.</summary>
    public DbConnection OpenConnection() => OpenConnectionAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="OpenConnection"/>
    public ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default) =>
        OpenConnectionAsync(IOBehavior.Asynchronous, cancellationToken);

    /// <summary>Opens a connection, runs the dialect's cheapest query and returns the round-trip time (including checkout).</summary>
    public TimeSpan Ping() => PingAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="Ping"/>
    public ValueTask<TimeSpan> PingAsync(CancellationToken cancellationToken = default) =>
        PingAsync(IOBehavior.Asynchronous, cancellationToken);

    internal async ValueTask<TimeSpan> PingAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var connection = await OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
        try
        {
            await RunPingAsync(connection, io, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or TimeoutException or InvalidOperationException)
        {
            throw new DatabaseCommandException(Name, "Ping", Dialect.Classify(e), e, Definition.Secrets);
        }
        finally
        {
            await CloseAsync(connection, io).ConfigureAwait(false);
        }

        return Stopwatch.GetElapsedTime(started);
    }

    internal async ValueTask<DbConnection> OpenConnectionAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await AcquireAsync(io, cancellationToken).ConfigureAwait(false);
        if (_budget is not null)
        {
            try
            {
                await _budget.AcquireAsync(io, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                _gate.Release();
                throw;
            }
        }

        DbConnection connection;
        try
        {
            connection = await OpenPhysicalAsync(io, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            ReleaseGate();
            throw;
        }

        // From here on, closing the connection (by whoever holds it) releases the gate.
        connection.StateChange += _onStateChange;
        Interlocked.Increment(ref _checkouts);
        try
        {
            await Dialect.OnConnectionOpenedAsync(connection, Definition, io == IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
            if (Definition.Pool.PrePing && !await TryPrePingAsync(connection, io, cancellationToken).ConfigureAwait(false))
            {
                // The pooled connection was dead: the pool has been cleared, so the next one is fresh.
                await CloseAsync(connection, io).ConfigureAwait(false);
                return await OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is DbException or TimeoutException or InvalidOperationException or NotSupportedException)
        {
            await CloseAsync(connection, io).ConfigureAwait(false);
            Interlocked.Increment(ref _connectFailures);
            throw new DatabaseConnectionException(Name, Dialect.Name, Definition.Target, e, Definition.Secrets);
        }

        return connection;
    }

    private async ValueTask AcquireAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        if (_gate.Wait(0, CancellationToken.None))
        {
            return;
        }

        var timeout = Definition.Pool.CheckoutTimeout;
        var started = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _waiting);
        bool acquired;
        try
        {
            acquired = io == IOBehavior.Synchronous
                ? _gate.Wait(timeout, cancellationToken)
                : await _gate.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }

        if (!acquired)
        {
            Interlocked.Increment(ref _timeouts);
            LogPoolTimeout(_logger, Name, Definition.Pool.MaxSize, timeout.TotalMilliseconds);
            throw new PoolTimeoutException(Name, Definition.Target, Definition.Pool.MaxSize, Stopwatch.GetElapsedTime(started));
        }
    }

    private async ValueTask<DbConnection> OpenPhysicalAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        DbConnection? connection = null;
        try
        {
            connection = _dataSource.CreateConnection();
            if (io == IOBehavior.Synchronous)
            {
                connection.Open();
            }
            else
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (Dialect.IsConnectionFailure(e) && !cancellationToken.IsCancellationRequested)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            Interlocked.Increment(ref _connectFailures);
            var errorType = e.GetType().Name;
            LogConnectFailed(_logger, Name, Definition.Target, errorType);
            throw new DatabaseConnectionException(Name, Dialect.Name, Definition.Target, e, Definition.Secrets);
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        _serverVersion ??= ReadServerVersion(connection);
        return connection;
    }

    private async ValueTask<bool> TryPrePingAsync(DbConnection connection, IOBehavior io, CancellationToken cancellationToken)
    {
        try
        {
            await RunPingAsync(connection, io, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is DbException or IOException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            var errorType = e.GetType().Name;
            LogPrePingFailed(_logger, Name, errorType);
            Dialect.ClearPool(connection);
            return false;
        }
    }

    private async ValueTask RunPingAsync(DbConnection connection, IOBehavior io, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Dialect.PingSql;
        command.CommandTimeout = Math.Max(1, (int)Definition.ConnectTimeout.TotalSeconds);
        if (io == IOBehavior.Synchronous)
        {
            command.ExecuteScalar();
        }
        else
        {
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    internal static async ValueTask CloseAsync(DbConnection connection, IOBehavior io)
    {
        if (io == IOBehavior.Synchronous)
        {
            connection.Dispose();
        }
        else
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void OnConnectionStateChange(object sender, StateChangeEventArgs e)
    {
        // Open → Closed (or Broken) happens once per checkout; unsubscribing makes a second Close harmless.
        if (e.OriginalState == ConnectionState.Open && e.CurrentState is ConnectionState.Closed or ConnectionState.Broken)
        {
            ((DbConnection)sender).StateChange -= _onStateChange;
            ReleaseGate();
        }
    }

    private void ReleaseGate()
    {
        _budget?.Release();
        _gate.Release();
    }

    private static string? ReadServerVersion(DbConnection connection)
    {
        try
        {
            return connection.ServerVersion;
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _dataSource.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
    }

    public override string ToString() => Definition.ToString();

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Database {Database}: no pooled connection free within {TimeoutMs} ms (max size {MaxSize})")]
    private static partial void LogPoolTimeout(ILogger logger, string database, int maxSize, double timeoutMs);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Database {Database}: cannot connect to {Target} ({ErrorType})")]
    private static partial void LogConnectFailed(ILogger logger, string database, string target, string errorType);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Database {Database}: pre-ping found a dead pooled connection ({ErrorType}); pool cleared")]
    private static partial void LogPrePingFailed(ILogger logger, string database, string errorType);
}
