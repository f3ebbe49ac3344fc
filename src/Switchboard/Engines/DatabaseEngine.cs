using System.Data;
using System.Data.Common;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Switchboard.Diagnostics;
using Switchboard.Dialects;
using Switchboard.Internal;
using Switchboard.Routing;

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
    private readonly ReplicaSet? _replicas;
    private string? _serverVersion;
    private int _waiting;

    // Opens in progress (a slot taken, the driver still connecting): said in a pool timeout, where a silent server shows.
    private int _connecting;
    private long _checkouts;
    private long _timeouts;
    private long _connectFailures;
    private int _disposed;

    internal DatabaseEngine(DatabaseDefinition definition, ILogger logger, IConnectionBudget? budget = null)
    {
        Definition = definition;
        _logger = logger;
        _budget = budget;

        // A database with several hosts gets a pool per host; DataSource then follows whichever host is primary.
        _replicas = definition.Routing is { } routing ? new ReplicaSet(this, routing, logger) : null;
        _dataSource = _replicas?.PrimaryDataSource ?? definition.Dialect.CreateDataSource(definition);
        _gate = new SemaphoreSlim(definition.Pool.MaxSize, definition.Pool.MaxSize);
        _onStateChange = OnConnectionStateChange;
        Telemetry = new EngineTelemetry(definition);
        SwitchboardTelemetry.Track(this);
    }

    /// <summary>The database's configured name.</summary>
    public string Name => Definition.Name;

    public Dialect Dialect => Definition.Dialect;

    public DatabaseDefinition Definition { get; }

    /// <summary>Precomputed metric tags and span names of this database.</summary>
    internal EngineTelemetry Telemetry { get; }

    /// <summary>
    /// The driver's own data source, for libraries that want one (EF Core, Dapper on raw connections).
    /// Connections opened from it directly are not counted by <see cref="GetPoolStatistics"/> or bounded by the checkout gate.
    /// </summary>
    public DbDataSource DataSource => _dataSource;

    /// <summary>The server's version, known after the first connection has opened (null before).</summary>
    public string? ServerVersion => _serverVersion;

    /// <summary>Whether the database has several hosts (a primary and replicas) that sessions are routed across.</summary>
    public bool IsReplicated => _replicas is not null;

    /// <summary>Each host's role, lag and circuit breaker as last checked (empty for a single-host database).</summary>
    public IReadOnlyList<HostStatus> GetHostStatuses() => _replicas?.GetStatuses() ?? [];

    /// <summary>Checks every host's role and lag now instead of at the next monitoring interval (does nothing for a single host).</summary>
    public Task RefreshTopologyAsync(CancellationToken cancellationToken = default) =>
        _replicas?.RefreshAsync(cancellationToken) ?? Task.CompletedTask;

    internal ReplicaSet? Replicas => _replicas;

    /// <summary>
    /// A data source for reads, for libraries that want a plain <see cref="DbDataSource"/> (EF Core read-only contexts). On a
    /// replicated database each connection it creates goes to the replica the read policy picks at that moment (lag limit,
    /// circuit breakers), or to the primary when none qualifies and <c>Routing:FallbackToPrimary</c> is on; otherwise
    /// creating one throws <see cref="NoReplicaException"/>. On a single-host database it is <see cref="DataSource"/>.
    /// Like <see cref="DataSource"/>, its connections bypass the checkout gate.
    /// </summary>
    public DbDataSource ReadOnlyDataSource => _replicas?.ReadOnlyDataSource ?? _dataSource;

    /// <summary>
    /// Pings one host of a replicated database directly — its own pool, not routed, not through its circuit breaker — and
    /// returns the round-trip time including the connection's open. <paramref name="target"/> is a
    /// <see cref="HostStatus.Target"/>; on a single-host database, <see cref="DatabaseDefinition.Target"/> (then this is
    /// <see cref="PingAsync(CancellationToken)"/>). Throws <see cref="DatabaseConnectionException"/> naming the host when it cannot be reached.
    /// </summary>
    public ValueTask<TimeSpan> PingHostAsync(string target, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(target);
        if (_replicas is not null)
        {
            return _replicas.PingHostAsync(target, IOBehavior.Asynchronous, cancellationToken);
        }

        return string.Equals(target, Definition.Target, StringComparison.OrdinalIgnoreCase)
            ? PingAsync(IOBehavior.Asynchronous, cancellationToken)
            : throw new ArgumentException($"Database '{Name}' has one host, '{Definition.Target}', not '{target}'.", nameof(target));
    }

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

    internal ValueTask<TimeSpan> PingAsync(IOBehavior io, CancellationToken cancellationToken) =>
        TimePingAsync(() => OpenConnectionAsync(io, cancellationToken), "Ping", io, cancellationToken);

    /// <summary>Times one ping, the connection's open from <paramref name="open"/> included; closes the connection after.</summary>
    internal async ValueTask<TimeSpan> TimePingAsync(Func<ValueTask<DbConnection>> open, string operation, IOBehavior io, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var connection = await open().ConfigureAwait(false);
        try
        {
            await RunPingAsync(connection, io, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or TimeoutException or InvalidOperationException)
        {
            throw new DatabaseCommandException(Name, operation, Dialect.Classify(e), e, Definition.Secrets, Definition.Target);
        }
        finally
        {
            await CloseAsync(connection, io).ConfigureAwait(false);
        }

        return Stopwatch.GetElapsedTime(started);
    }

    internal ValueTask<DbConnection> OpenConnectionAsync(IOBehavior io, CancellationToken cancellationToken, long startedTimestamp = 0) =>
        OpenConnectionAsync(route: null, io, cancellationToken, startedTimestamp);

    /// <summary>Checks out a connection; on a replicated database <paramref name="route"/> (null: the primary) picks the host.</summary>
    internal ValueTask<DbConnection> OpenConnectionAsync(SessionRoute? route, IOBehavior io, CancellationToken cancellationToken, long startedTimestamp = 0) =>
        OpenConnectionAsync(route, io, prePing: Definition.Pool.PrePing, slotTaken: false, startedTimestamp, cancellationToken);

    /// <summary>
    /// Takes a pool slot ahead of the open that will use it (<see cref="OpenWithTakenSlotAsync"/>), or gives it back with
    /// <see cref="ReturnSlot"/>. A distributed transaction takes its participants' slots one at a time in one fixed order
    /// before it opens them all at once: two transactions taking them in different orders could each hold the last slot of
    /// one pool while waiting for the other's, until the checkout timeout.
    /// </summary>
    internal ValueTask TakeSlotAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return AcquireAsync(io, cancellationToken);
    }

    internal void ReturnSlot() => _gate.Release();

    /// <summary>Checks out a connection on the primary with a slot taken by <see cref="TakeSlotAsync"/>; the slot is the connection's from here on, even if the open fails.</summary>
    internal ValueTask<DbConnection> OpenWithTakenSlotAsync(IOBehavior io, CancellationToken cancellationToken) =>
        OpenConnectionAsync(route: null, io, prePing: Definition.Pool.PrePing, slotTaken: true, startedTimestamp: 0, cancellationToken);

    private async ValueTask<DbConnection> OpenConnectionAsync(SessionRoute? route, IOBehavior io, bool prePing, bool slotTaken, long startedTimestamp,
        CancellationToken cancellationToken)
    {
        if (_disposed != 0 && slotTaken)
        {
            _gate.Release();
        }

        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (startedTimestamp == 0)
        {
            startedTimestamp = Stopwatch.GetTimestamp();
        }

        if (!slotTaken)
        {
            await AcquireAsync(io, cancellationToken).ConfigureAwait(false);
        }

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
        HostEndpoint? host = null;
        try
        {
            if (_replicas is null)
            {
                connection = await OpenPhysicalAsync(_dataSource, Definition, io, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                (connection, host) = await _replicas.OpenAsync(route, io, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            ReleaseGate();
            throw;
        }

        // From here on, closing the connection (by whoever holds it) releases the gate.
        connection.StateChange += _onStateChange;
        host?.Attach(connection);
        route?.Host = host;
        var definition = host?.Definition ?? Definition;
        Interlocked.Increment(ref _checkouts);
        try
        {
            await Dialect.OnConnectionOpenedAsync(connection, definition, io == IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
            if (prePing && !await TryPrePingAsync(connection, io, cancellationToken).ConfigureAwait(false))
            {
                // The pooled connection was dead: the pool has been cleared, so the next one is fresh (and not pinged again).
                // The slot stays this checkout's when it still can: given back and taken again, it could go to a distributed
                // transaction that holds slots this caller's transaction is waiting for (they are taken in one order for that
                // reason). A driver that already marked the connection broken has given it back (the state-change handler).
                connection.StateChange -= _onStateChange;
                var keepSlot = connection.State == ConnectionState.Open;
                if (keepSlot)
                {
                    _budget?.Release();
                }

                await CloseAsync(connection, io).ConfigureAwait(false);
                return await OpenConnectionAsync(route, io, prePing: false, slotTaken: keepSlot, startedTimestamp, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            // Whatever ends the set-up (a cancellation too), the connection goes back: it holds a pool slot and the gate.
            await CloseAsync(connection, io).ConfigureAwait(false);
            if (e is not (DbException or TimeoutException or InvalidOperationException or NotSupportedException))
            {
                throw;
            }

            Interlocked.Increment(ref _connectFailures);
            Telemetry.RecordConnectFailure();
            throw new DatabaseConnectionException(Name, Dialect.Name, definition.Target, e, Definition.Secrets, !Dialect.IsPermanentConnectionFailure(e));
        }

        Telemetry.RecordCheckout(startedTimestamp);
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
            Telemetry.RecordTimeout();
            LogPoolTimeout(_logger, Name, Definition.Pool.MaxSize, timeout.TotalMilliseconds);
            throw new PoolTimeoutException(Name, Definition.Target, Definition.Pool.MaxSize, Stopwatch.GetElapsedTime(started), Volatile.Read(ref _connecting));
        }
    }

    /// <summary>Opens a connection from <paramref name="dataSource"/> (the engine's, or one host's); errors name <paramref name="target"/>'s host.</summary>
    internal async ValueTask<DbConnection> OpenPhysicalAsync(DbDataSource dataSource, DatabaseDefinition target, IOBehavior io,
        CancellationToken cancellationToken)
    {
        DbConnection? connection = null;
        try
        {
            connection = dataSource.CreateConnection();
            Interlocked.Increment(ref _connecting);
            try
            {
                await Dialect.OpenAsync(connection, io == IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _connecting);
            }
        }
        catch (Exception e) when (Dialect.IsConnectionFailure(e) && !cancellationToken.IsCancellationRequested)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            Interlocked.Increment(ref _connectFailures);
            Telemetry.RecordConnectFailure();
            var errorType = e.GetType().Name;
            LogConnectFailed(_logger, Name, target.Target, errorType);
            throw new DatabaseConnectionException(Name, Dialect.Name, target.Target, e, Definition.Secrets, !Dialect.IsPermanentConnectionFailure(e));
        }
        catch (Exception e)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            if (e is not OperationCanceledException && Dialect.IsConnectionFailure(e) && cancellationToken.IsCancellationRequested)
            {
                // Cancelled while a driver that ignores the token went on to fail: a cancellation to the caller, naming
                // the database, rather than the driver's own error.
                throw new OperationCanceledException($"Opening a connection to database '{Name}' ({Dialect.Name} at {target.Target}) was cancelled.", e,
                    cancellationToken);
            }

            throw;
        }

        _serverVersion ??= ReadServerVersion(connection) is { } version ? Dialect.DescribeServerVersion(version) : null;
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
            SwitchboardTelemetry.Untrack(this);
            _dataSource.Dispose();
            _replicas?.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            SwitchboardTelemetry.Untrack(this);
            await _dataSource.DisposeAsync().ConfigureAwait(false);
            if (_replicas is not null)
            {
                await _replicas.DisposeAsync().ConfigureAwait(false);
            }
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
