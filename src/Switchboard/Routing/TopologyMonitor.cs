using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchboard.Internal;

namespace Switchboard.Routing;

/// <summary>
/// Checks every host of one replicated database: each round asks each host, over a connection of the monitor's own that
/// stays open between rounds, for its role and log position (one round trip), then publishes a new snapshot. Rounds run
/// every <c>MonitorInterval</c>, every <c>RecheckInterval</c> while there is no primary or just after a session reported
/// a failure, and at once when a session reports one. Sessions never pay a round trip for monitoring.
/// </summary>
/// <remarks>
/// A semaphore wait with a timeout drives the loop rather than a <see cref="PeriodicTimer"/>: it gives the periodic tick
/// and the early wake-up in one call, and the period can change from one round to the next.
/// </remarks>
internal sealed partial class TopologyMonitor : IDisposable, IAsyncDisposable
{
    private readonly ReplicaSet _set;
    private readonly ILogger _logger;
    private readonly DbDataSource?[] _sources;
    private readonly DbConnection?[] _connections;
    private readonly Task<ProbeResult>?[] _checks;
    private readonly SemaphoreSlim _round = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private int _wakeRequested;
    private Task? _loop;
    private long _rounds;

    public TopologyMonitor(ReplicaSet set, ILogger logger)
    {
        _set = set;
        _logger = logger;
        _sources = new DbDataSource?[set.Hosts.Length];
        _connections = new DbConnection?[set.Hosts.Length];
        _checks = new Task<ProbeResult>?[set.Hosts.Length];
    }

    /// <summary>Rounds completed so far.</summary>
    public long Rounds => Interlocked.Read(ref _rounds);

    public void Start() => _loop ??= Task.Run(LoopAsync);

    /// <summary>Wakes the loop for a round now; many requests before it runs make one round.</summary>
    public void RequestRecheck()
    {
        if (Interlocked.Exchange(ref _wakeRequested, 1) == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (Exception e) when (e is SemaphoreFullException or ObjectDisposedException)
            {
                // A wake-up is already pending, or the monitor has stopped.
            }
        }
    }

    private async Task LoopAsync()
    {
        var stop = _stop.Token;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var delay = _set.WantsFastChecks ? _set.Settings.RecheckInterval : _set.Settings.MonitorInterval;
                await _wake.WaitAsync(delay, stop).ConfigureAwait(false);
                Volatile.Write(ref _wakeRequested, 0);
                try
                {
                    await RunRoundAsync(stop).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
                {
                    // Anything, a driver's bug included: a monitor that stopped would leave routing on its last snapshot.
                    // A failure while stopping (a probe's open that ended with the disposal) is not worth a warning.
                    if (!stop.IsCancellationRequested)
                    {
                        LogRoundFailed(_logger, _set.Name, e.GetType().Name);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Disposed.
        }
        finally
        {
            await CloseAllAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Checks every host in parallel, each within CheckTimeout, and publishes the result.</summary>
    public async ValueTask RunRoundAsync(CancellationToken cancellationToken)
    {
        await _round.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
            var probes = new Task<ProbeResult>[_set.Hosts.Length];
            for (var i = 0; i < probes.Length; i++)
            {
                probes[i] = ProbeAsync(i, cancellationToken);
            }

            var results = new ProbeResult[probes.Length];
            for (var i = 0; i < probes.Length; i++)
            {
                results[i] = await probes[i].ConfigureAwait(false);
            }

            _set.Apply(results);
            Interlocked.Increment(ref _rounds);
        }
        finally
        {
            _round.Release();
        }
    }

    /// <summary>
    /// One host's check, within CheckTimeout. A driver that cannot cancel an open (Npgsql waiting for a silent server's
    /// first answer) keeps it running until its own connect timeout: the round then reports the host as not answering and
    /// leaves that check running, and later rounds wait for it rather than start another connection to the silent host.
    /// </summary>
    private async Task<ProbeResult> ProbeAsync(int index, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var check = _checks[index];
        if (check is null || check.IsCompleted)
        {
            // The monitor's lifetime, not the caller's token: a check may outlive the round (and the caller) that began it.
            check = _checks[index] = CheckHostAsync(index, _stop.Token);
        }

        try
        {
            return await check.WaitAsync(_set.Settings.CheckTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return new ProbeResult(null, NoAnswer, Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow, Stopwatch.GetElapsedTime(started));
        }
    }

    private string NoAnswer => $"no answer within {_set.Settings.CheckTimeout.TotalMilliseconds:0} ms";

    private async Task<ProbeResult> CheckHostAsync(int index, CancellationToken stop)
    {
        var host = _set.Hosts[index];
        var dialect = host.Definition.Dialect;
        var started = Stopwatch.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(_set.Settings.CheckTimeout);
        var token = timeout.Token;
        try
        {
            var connection = _connections[index];
            if (connection is null || connection.State != ConnectionState.Open)
            {
                await DropAsync(index, clearPool: false).ConfigureAwait(false);
                // A pool of the monitor's own, so that its connection never competes with sessions for Pool:MaxSize.
                connection = (_sources[index] ??= dialect.CreateMonitorDataSource(host.Definition)).CreateConnection();
                _connections[index] = connection;
                await dialect.OpenAsync(connection, async: true, token).ConfigureAwait(false);
                await dialect.OnConnectionOpenedAsync(connection, host.Definition, async: true, token).ConfigureAwait(false);
            }

            var probe = await dialect.ProbeReplicationAsync(connection, async: true, token).ConfigureAwait(false);
            return new ProbeResult(probe, null, Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow, Stopwatch.GetElapsedTime(started));
        }
        catch (Exception e)
        {
            // Anything, a driver's bug included, is this host's failed check: a check may outlive its round, and then
            // nobody awaits it. (Once the monitor has stopped, CloseAllAsync closes the host when the check ends.)
            if (!stop.IsCancellationRequested)
            {
                await DropAsync(index, clearPool: true).ConfigureAwait(false);
            }

            var error = e is OperationCanceledException ? NoAnswer : SecretMasker.Scrub(DatabaseConnectionException.Describe(e), host.Definition.Secrets);
            return new ProbeResult(null, error, Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>Forgets a host's monitoring connection; after a failure also its pool, so the next check connects afresh.</summary>
    private async ValueTask DropAsync(int index, bool clearPool)
    {
        var connection = Interlocked.Exchange(ref _connections[index], null);
        if (connection is null)
        {
            return;
        }

        try
        {
            if (clearPool)
            {
                _set.Hosts[index].Definition.Dialect.ClearPool(connection);
            }

            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException or SocketException or ObjectDisposedException)
        {
            // It was broken already.
        }
    }

    private async ValueTask CloseHostAsync(int index)
    {
        await DropAsync(index, clearPool: false).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _sources[index], null) is { } source)
        {
            await source.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask CloseAllAsync()
    {
        for (var i = 0; i < _connections.Length; i++)
        {
            // A check still running (one that outlived its round: a driver that cannot cancel its open) owns the host's
            // connection until it ends; the host is closed then.
            if (_checks[i] is { IsCompleted: false } running)
            {
                var index = i;
                _ = running.ContinueWith(_ => CloseHostAsync(index).AsTask(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default)
                    .Unwrap();
            }
            else
            {
                await CloseHostAsync(i).ConfigureAwait(false);
            }
        }
    }

    public void Dispose()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _stop.Cancel();
        if (_loop is null)
        {
            // Never started (the first round ran on a caller's thread): close its connections here.
            CloseAllAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }
        else
        {
            await CloseAllAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 1109, Level = LogLevel.Warning, Message = "Database {Database}: a monitoring round failed ({ErrorType}); retrying at the next interval")]
    private static partial void LogRoundFailed(ILogger logger, string database, string errorType);
}

/// <summary>What checking one host gave: its probe, or why there is none.</summary>
/// <param name="Probe">The server's answer, or null when the host could not be checked.</param>
/// <param name="Error">Why the check failed (no secrets).</param>
/// <param name="Timestamp">When the check ended (<see cref="Stopwatch"/> ticks).</param>
/// <param name="At">When the check ended (wall clock, for display).</param>
/// <param name="Latency">How long the check took.</param>
internal readonly record struct ProbeResult(Dialects.ReplicationProbe? Probe, string? Error, long Timestamp, DateTimeOffset At, TimeSpan Latency);
