using System.Data.Common;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Switchboard.Diagnostics;
using Switchboard.Dialects;
using Switchboard.Internal;

namespace Switchboard.Routing;

/// <summary>
/// The hosts of one replicated database, inside its <see cref="DatabaseEngine"/>: per-host pools and circuit breakers, the
/// current <see cref="TopologySnapshot"/>, the background <see cref="TopologyMonitor"/>, and the routing of each checkout
/// (read-write to the primary; read-only to a qualifying replica, waiting for read-your-writes or falling back to the
/// primary as configured). Opening a connection is retried on transient failures (Polly); nothing else is.
/// </summary>
internal sealed partial class ReplicaSet : IDisposable, IAsyncDisposable
{
    private readonly DatabaseEngine _engine;
    private readonly ILogger _logger;
    private readonly Lock _publishLock = new();
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private readonly ResiliencePipeline _openRetry;
    private readonly PositionHistory _history;
    private readonly long _maxLagTicks;
    private volatile TopologySnapshot _snapshot;
    private int _lastKnownPrimary = -1;
    private volatile bool _ready;
    private long _fastChecksUntil;
    private int _cursor;
    private int _disposed;

    public ReplicaSet(DatabaseEngine engine, RoutingSettings settings, ILogger logger)
    {
        _engine = engine;
        _logger = logger;
        Settings = settings;
        var definition = engine.Definition;
        Hosts = new HostEndpoint[settings.Hosts.Count];
        for (var i = 0; i < Hosts.Length; i++)
        {
            var host = settings.Hosts[i];
            var hostDefinition = new DatabaseDefinition(definition.Name, definition.Dialect, host.Connection, definition.Pool,
                definition.CommandTimeout, definition.ConnectTimeout, definition.ProviderOptions);
            Hosts[i] = new HostEndpoint(i, hostDefinition, host.ConfiguredRole);
            Hosts[i].Breaker = CreateBreaker(i);
        }

        _maxLagTicks = settings.MaxReplicaLag is { } lag ? (long)(lag.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        var samples = settings.MaxReplicaLag is { } l ? (int)Math.Ceiling(l / settings.MonitorInterval) + 4 : 64;
        _history = new PositionHistory(Math.Clamp(samples, 64, 4096));

        // Until the first check answers: the first host that is not listed as a replica is assumed primary. Sessions wait
        // for that first check anyway (EnsureReadyAsync), so this guess only shows in statuses taken before it.
        var guess = Array.FindIndex(Hosts, h => h.ConfiguredRole != HostRole.Replica);
        _snapshot = new TopologySnapshot(
            [.. Hosts.Select((h, i) => HostState.Initial(i == guess ? HostRole.Primary : HostRole.Replica))], guess, 0, isChecked: false);

        _openRetry = settings.OpenRetries == 0 ? ResiliencePipeline.Empty : new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = settings.OpenRetries,
                Delay = TimeSpan.FromMilliseconds(20),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = new PredicateBuilder().Handle<DatabaseConnectionException>().Handle<BrokenCircuitException>(),
            })
            .Build();
        Monitor = new TopologyMonitor(this, logger);
        PrimaryDataSource = new PrimaryDataSource(this);
        ReadOnlyDataSource = new ReplicaDataSource(this);
    }

    public RoutingSettings Settings { get; }

    public HostEndpoint[] Hosts { get; }

    public string Name => _engine.Name;

    public Dialect Dialect => _engine.Dialect;

    public TopologyMonitor Monitor { get; }

    /// <summary>A data source whose connections go to whichever host is primary when they are created.</summary>
    public DbDataSource PrimaryDataSource { get; }

    /// <summary>A data source whose connections go to the replica the read policy picks when they are created.</summary>
    public DbDataSource ReadOnlyDataSource { get; }

    public TopologySnapshot Snapshot => _snapshot;

    /// <summary>While there is no primary, or just after a session saw a failure, the monitor checks every RecheckInterval.</summary>
    public bool WantsFastChecks => _snapshot.Primary < 0 || Stopwatch.GetTimestamp() < Interlocked.Read(ref _fastChecksUntil);

    /// <summary>Runs the first check (bounded by CheckTimeout, even for a synchronous caller) and starts the monitor; later calls return at once.</summary>
    public async ValueTask EnsureReadyAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        if (_ready)
        {
            return;
        }

        if (io == IOBehavior.Synchronous)
        {
            _initLock.Wait(cancellationToken);
        }
        else
        {
            await _initLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, _engine);
            if (!_ready)
            {
                if (io == IOBehavior.Synchronous)
                {
                    // The first round bounds every probe by CheckTimeout and runs them in parallel. Blocking probes cannot be
                    // cancelled and would run one after another, each up to the driver's connect timeout: a silent host would
                    // hold up a synchronous caller's first session for that long. So this once, block on the asynchronous round.
                    Task.Run(() => Monitor.RunRoundAsync(cancellationToken).AsTask(), cancellationToken).GetAwaiter().GetResult();
                }
                else
                {
                    await Monitor.RunRoundAsync(cancellationToken).ConfigureAwait(false);
                }

                Monitor.Start();
                _ready = true;
            }
        }
        finally
        {
            _initLock.Release();
        }
    }

    /// <summary>Checks every host now and waits for the result.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await EnsureReadyAsync(IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
        await Monitor.RunRoundAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Routes one checkout and opens its connection. <paramref name="route"/> null means the primary.</summary>
    public async ValueTask<(DbConnection Connection, HostEndpoint Host)> OpenAsync(SessionRoute? route, IOBehavior io, CancellationToken cancellationToken)
    {
        var opened = await RouteAndOpenAsync(route, io, cancellationToken).ConfigureAwait(false);
        var role = _snapshot.Primary == opened.Host.Index ? "primary" : "replica";
        SwitchboardTelemetry.RecordRoutingDecision(Name, role, route?.Intent ?? SessionIntent.ReadWrite);
        return opened;
    }

    private async ValueTask<(DbConnection Connection, HostEndpoint Host)> RouteAndOpenAsync(SessionRoute? route, IOBehavior io, CancellationToken cancellationToken)
    {
        await EnsureReadyAsync(io, cancellationToken).ConfigureAwait(false);
        var attempt = new OpenAttempt(this, route, io,
            route is { WantsPrimary: false } ? route.RequiredPosition(Name, Dialect) : null);
        try
        {
            return io == IOBehavior.Synchronous
                ? _openRetry.Execute(static (a, ct) => a.Set.OpenOnceAsync(a, ct).GetCompletedResult(), attempt, cancellationToken)
                : await _openRetry.ExecuteAsync(static (a, ct) => a.Set.OpenOnceAsync(a, ct), attempt, cancellationToken).ConfigureAwait(false);
        }
        catch (BrokenCircuitException)
        {
            // Routing skips open circuits, so this is a race with another session's failure: report it in our own terms.
            var statuses = GetStatuses();
            throw attempt.WantsPrimary
                ? new NoPrimaryException(Name, statuses, "its circuit breaker is open")
                : new NoReplicaException(Name, statuses, "every candidate's circuit breaker is open");
        }
    }

    private async ValueTask<(DbConnection, HostEndpoint)> OpenOnceAsync(OpenAttempt attempt, CancellationToken cancellationToken)
    {
        var snapshot = _snapshot;
        if (attempt.WantsPrimary)
        {
            return await OpenPrimaryAsync(snapshot, attempt, forRead: false, cancellationToken).ConfigureAwait(false);
        }

        var required = attempt.Required;
        var index = ChooseReplica(snapshot, required, attempt.Excluded);
        if (index >= 0)
        {
            return await OpenOnHostAsync(Hosts[index], attempt, cancellationToken).ConfigureAwait(false);
        }

        if (required is not null && Settings.ReadYourWritesWait > TimeSpan.Zero && !attempt.Waited)
        {
            // No replica is known to be past the session's last write: ask the one furthest along to wait for it, for a
            // bounded time (whatever the read policy: it is the one most likely to get there first).
            attempt.Waited = true;
            var candidate = HostSelector.SelectReplica(snapshot, Hosts, ReadPolicy.LowestLag, _maxLagTicks, null, ref _cursor, attempt.Excluded);
            if (candidate >= 0 && await TryOpenCaughtUpAsync(Hosts[candidate], required, attempt, cancellationToken).ConfigureAwait(false) is { } caughtUp)
            {
                return caughtUp;
            }
        }

        if (!Settings.FallbackToPrimary)
        {
            throw new NoReplicaException(Name, GetStatuses(snapshot), required is null
                ? "no replica qualifies and Routing:FallbackToPrimary is off"
                : "no replica has replayed the session's earlier writes and Routing:FallbackToPrimary is off");
        }

        return await OpenPrimaryAsync(snapshot, attempt, forRead: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The routing decision for a read (what the routing benchmark measures): a replica's index, or -1.</summary>
    internal int ChooseReplica(TopologySnapshot snapshot, ReplicationPosition? required, ulong excluded = 0) =>
        HostSelector.SelectReplica(snapshot, Hosts, Settings.ReadPolicy, _maxLagTicks, required, ref _cursor, excluded);

    /// <summary>The whole decision on the current snapshot, as a session's checkout makes it.</summary>
    internal int ChooseReplica(ReplicationPosition? required) => ChooseReplica(_snapshot, required);

    /// <summary>Replaces the snapshot (benchmarks build one without servers).</summary>
    internal void Publish(TopologySnapshot snapshot)
    {
        lock (_publishLock)
        {
            _snapshot = snapshot;
        }
    }

    private async ValueTask<(DbConnection, HostEndpoint)?> TryOpenCaughtUpAsync(HostEndpoint host, ReplicationPosition required, OpenAttempt attempt,
        CancellationToken cancellationToken)
    {
        var (connection, _) = await OpenOnHostAsync(host, attempt, cancellationToken).ConfigureAwait(false);
        var async = attempt.Io == IOBehavior.Asynchronous;
        try
        {
            await Dialect.OnConnectionOpenedAsync(connection, host.Definition, async, cancellationToken).ConfigureAwait(false);
            if (await Dialect.WaitForPositionAsync(connection, required, Settings.ReadYourWritesWait, async, cancellationToken).ConfigureAwait(false))
            {
                return (connection, host);
            }
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException)
        {
            var errorType = e.GetType().Name;
            LogWaitFailed(_logger, Name, host.Target, errorType);
        }

        await DatabaseEngine.CloseAsync(connection, attempt.Io).ConfigureAwait(false);
        return null;
    }

    private async ValueTask<(DbConnection, HostEndpoint)> OpenPrimaryAsync(TopologySnapshot snapshot, OpenAttempt attempt, bool forRead,
        CancellationToken cancellationToken)
    {
        var index = snapshot.Primary;
        string? reason = null;
        if (index < 0)
        {
            var primaries = PrimaryTargets(snapshot);
            reason = primaries.Count > 1
                ? $"several hosts report themselves primary ({string.Join(", ", primaries)}) and nothing tells which is current: writes are refused "
                    + "until only one does (a split brain: stop or fence the stale one)"
                : "no reachable host reports itself as primary";
        }
        else if (!HostSelector.BreakerAllows(snapshot.Hosts[index], Stopwatch.GetTimestamp()))
        {
            reason = "its circuit breaker is open after repeated connection failures";
        }

        if (reason is not null)
        {
            var statuses = GetStatuses(snapshot);
            throw forRead
                ? new NoReplicaException(Name, statuses, "no replica qualifies, and no primary to fall back to: " + reason)
                : new NoPrimaryException(Name, statuses, reason);
        }

        return await OpenOnHostAsync(Hosts[index], attempt, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<(DbConnection, HostEndpoint)> OpenOnHostAsync(HostEndpoint host, OpenAttempt attempt, CancellationToken cancellationToken)
    {
        var state = (Engine: _engine, Host: host);
        try
        {
            var connection = attempt.Io == IOBehavior.Synchronous
                ? host.Breaker.Execute(static (s, ct) => OpenCountingFailuresAsync(s.Engine, s.Host, IOBehavior.Synchronous, ct).GetCompletedResult(),
                    state, cancellationToken)
                : await host.Breaker.ExecuteAsync(static (s, ct) => OpenCountingFailuresAsync(s.Engine, s.Host, IOBehavior.Asynchronous, ct),
                    state, cancellationToken).ConfigureAwait(false);
            return (connection, host);
        }
        catch (DatabaseConnectionException)
        {
            attempt.Exclude(host.Index);
            ReportFailure(host, DatabaseErrorKind.ConnectionLost);
            throw;
        }
        catch (BrokenCircuitException)
        {
            attempt.Exclude(host.Index);
            throw;
        }
    }

    /// <summary>Opens a connection to one host, counting its connection failures in a row (for the circuit breaker).</summary>
    private static async ValueTask<DbConnection> OpenCountingFailuresAsync(DatabaseEngine engine, HostEndpoint host, IOBehavior io,
        CancellationToken cancellationToken)
    {
        try
        {
            var connection = await engine.OpenPhysicalAsync(host.DataSource, host.Definition, io, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref host.ConsecutiveFailures, 0);
            return connection;
        }
        catch (DatabaseConnectionException)
        {
            Interlocked.Increment(ref host.ConsecutiveFailures);
            throw;
        }
    }

    /// <summary>
    /// A session saw a connection fail or a write refused as read-only: check every host now rather than at the next
    /// interval, and keep checking fast for a moment. A primary that refused a write as read-only has its pool purged at
    /// once, so none of its connections reaches another writer.
    /// </summary>
    public void ReportFailure(HostEndpoint? host, DatabaseErrorKind kind)
    {
        Interlocked.Exchange(ref _fastChecksUntil, Stopwatch.GetTimestamp() + (2 * Stopwatch.Frequency));
        if (kind == DatabaseErrorKind.ReadOnlyTransaction && host is not null && _snapshot.Primary == host.Index)
        {
            host.ClearPool();
        }

        Monitor.RequestRecheck();
    }

    /// <summary>The host read-write connections go to now (for <see cref="PrimaryDataSource"/>); throws <see cref="NoPrimaryException"/>.</summary>
    public HostEndpoint CurrentPrimary()
    {
        EnsureReadyAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();
        var snapshot = _snapshot;
        return snapshot.Primary >= 0 ? Hosts[snapshot.Primary] : throw new NoPrimaryException(Name, GetStatuses(snapshot));
    }

    /// <summary>
    /// The host a read-only connection created now should go to (for <see cref="ReadOnlyDataSource"/>): the session
    /// routing's own choice (<see cref="ChooseReplica(ReplicationPosition?)"/>), then the primary if
    /// <c>Routing:FallbackToPrimary</c> allows; throws <see cref="NoReplicaException"/> otherwise.
    /// </summary>
    public HostEndpoint ChooseReadHost()
    {
        EnsureReadyAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();
        var snapshot = _snapshot;
        var index = ChooseReplica(snapshot, required: null);
        if (index >= 0)
        {
            return Hosts[index];
        }

        if (!Settings.FallbackToPrimary)
        {
            throw new NoReplicaException(Name, GetStatuses(snapshot), "no replica qualifies and Routing:FallbackToPrimary is off");
        }

        return snapshot.Primary >= 0 && HostSelector.BreakerAllows(snapshot.Hosts[snapshot.Primary], Stopwatch.GetTimestamp())
            ? Hosts[snapshot.Primary]
            : throw new NoReplicaException(Name, GetStatuses(snapshot), "no replica qualifies, and no primary to fall back to");
    }

    /// <summary>Pings one host directly (its own pool, not through routing or its circuit breaker); for per-host health checks.</summary>
    public async ValueTask<TimeSpan> PingHostAsync(string target, IOBehavior io, CancellationToken cancellationToken)
    {
        var host = Array.Find(Hosts, h => string.Equals(h.Target, target, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"Database '{Name}' has no host '{target}' (hosts: {string.Join(", ", Hosts.Select(h => h.Target))}).", nameof(target));

        // The first call starts the monitor, so that the roles and lag reported next to this ping are checked ones.
        await EnsureReadyAsync(io, cancellationToken).ConfigureAwait(false);
        return await _engine.TimePingAsync(() => _engine.OpenPhysicalAsync(host.DataSource, host.Definition, io, cancellationToken), "Ping " + host.Target, io,
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The current primary, or null while there is none.</summary>
    public HostEndpoint? TryCurrentPrimary()
    {
        EnsureReadyAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();
        var primary = _snapshot.Primary;
        return primary >= 0 ? Hosts[primary] : null;
    }

    public IReadOnlyList<HostStatus> GetStatuses() => GetStatuses(_snapshot);

    private List<HostStatus> GetStatuses(TopologySnapshot snapshot)
    {
        var now = Stopwatch.GetTimestamp();
        var list = new List<HostStatus>(Hosts.Length);
        for (var i = 0; i < Hosts.Length; i++)
        {
            var h = snapshot.Hosts[i];
            TimeSpan? retryAfter = h.Breaker == BreakerState.Open && h.BreakerUntil > now ? Stopwatch.GetElapsedTime(now, h.BreakerUntil) : null;
            TimeSpan? lag = h.LagTicks >= 0 && h.Reachable ? TimeSpan.FromSeconds((double)h.LagTicks / Stopwatch.Frequency) : null;
            list.Add(new HostStatus(Hosts[i].Target, h.Role, i == snapshot.Primary, h.Reachable, lag, h.Position?.ToString(), h.Breaker, retryAfter,
                Volatile.Read(ref Hosts[i].Outstanding), Hosts[i].PoolClears, h.LastChecked, h.Latency, h.Error));
        }

        return list;
    }

    /// <summary>Publishes what one monitoring round found: roles, primary, lag; purges pools whose host changed role or vanished.</summary>
    internal void Apply(ProbeResult[] results)
    {
        List<(int Host, HostRole From, HostRole To)>? changes = null;
        TopologySnapshot previous, next;
        lock (_publishLock)
        {
            previous = _snapshot;
            var now = Stopwatch.GetTimestamp();
            var states = new HostState[Hosts.Length];
            for (var i = 0; i < states.Length; i++)
            {
                var old = previous.Hosts[i];
                var r = results[i];
                states[i] = r.Probe is { } probe
                    ? old with
                    {
                        Role = probe.IsPrimary ? HostRole.Primary : HostRole.Replica,
                        Reachable = true,
                        Term = probe.IsPrimary ? probe.Term : null,
                        Position = probe.Position ?? old.Position,
                        LastChecked = r.At,
                        Latency = r.Latency,
                        Error = probe.Note,
                    }
                    : old with { Role = HostRole.Unknown, Reachable = false, Term = null, LagTicks = -1, LastChecked = r.At, Latency = r.Latency, Error = r.Error };
            }

            var primary = ChoosePrimary(previous.IsChecked ? previous.Primary : -1, states); // the configured guess is no current primary
            if (primary >= 0 && states[primary].Position is { } written && results[primary].Probe is not null)
            {
                _history.Record(results[primary].Timestamp, written);
            }

            for (var i = 0; i < states.Length; i++)
            {
                if (states[i].Reachable)
                {
                    var lag = i == primary ? 0 : _history.LagOf(results[i].Probe?.Position, results[i].Timestamp);
                    states[i] = states[i] with { LagTicks = lag };
                }
            }

            next = new TopologySnapshot(states, primary, previous.Generation + 1, isChecked: true);
            for (var i = 0; i < states.Length; i++)
            {
                var from = previous.IsChecked ? (previous.Hosts[i].Reachable ? previous.Hosts[i].Role : HostRole.Unknown) : states[i].Role;
                var to = states[i].Reachable ? states[i].Role : HostRole.Unknown;
                var wasPrimary = previous.IsChecked && previous.Primary == i;
                if (from != to || wasPrimary != (primary == i))
                {
                    (changes ??= []).Add((i, from, to));
                }
            }

            _snapshot = next;
        }

        if (changes is not null)
        {
            OnChanges(previous, next, changes);
        }
    }

    private void OnChanges(TopologySnapshot previous, TopologySnapshot next, List<(int Host, HostRole From, HostRole To)> changes)
    {
        foreach (var (i, from, to) in changes)
        {
            // Connections opened before a role change (or to a host that went away) must not be handed out again: a
            // pooled connection to a demoted primary would be read-only, one to a restarted server would be dead.
            Hosts[i].ClearPool();
            if (next.Hosts[i].Reachable && from == to)
            {
                // First sight of the host, or only the choice of primary moved: its role itself did not change.
                var role = to.ToString();
                LogHostSeen(_logger, Name, Hosts[i].Target, role);
            }
            else if (next.Hosts[i].Reachable)
            {
                string role = to.ToString(), previousRole = from.ToString();
                LogHostRole(_logger, Name, Hosts[i].Target, role, previousRole);
            }
            else
            {
                LogHostUnreachable(_logger, Name, Hosts[i].Target, next.Hosts[i].Error ?? "no answer");
            }
        }

        if (next.Primary != previous.Primary || !previous.IsChecked)
        {
            if (next.Primary >= 0)
            {
                LogPrimary(_logger, Name, Hosts[next.Primary].Target);
                if (next.Primary != _lastKnownPrimary)
                {
                    // A failover is another host taking over, not the first discovery nor the old primary coming back.
                    if (_lastKnownPrimary >= 0)
                    {
                        SwitchboardTelemetry.RecordFailover(Name, Hosts[next.Primary].Target);
                    }

                    _lastKnownPrimary = next.Primary;
                }

            }
            else
            {
                LogNoPrimary(_logger, Name);
            }
        }

        if (next.Hosts.Count(h => h.ReportsPrimary) > 1 && _logger.IsEnabled(LogLevel.Warning))
        {
            LogSeveralPrimaries(_logger, Name, string.Join(", ", PrimaryTargets(next)),
                next.Primary >= 0 ? Hosts[next.Primary].Target : "none of them (refused until only one does)");
        }
    }

    /// <summary>
    /// The current primary stays while it still reports itself primary (two primaries happen for a moment during a
    /// switchover), unless another reports a higher term (it was promoted after the current one). Otherwise the only host that reports itself primary; of several, the one with the highest term (the
    /// last promoted: a restarted old primary that was not fenced is still on its old timeline); and when nothing tells
    /// them apart, none: writes are refused rather than sent to a host that may be the stale one.
    /// </summary>
    internal static int ChoosePrimary(int current, HostState[] states)
    {
        if (current >= 0 && states[current].ReportsPrimary && !states.Any(s => s.ReportsPrimary && s.Term > states[current].Term))
        {
            return current; // unless another was promoted after it: then this one is the stale side of a split brain
        }

        var primaries = Enumerable.Range(0, states.Length).Where(i => states[i].ReportsPrimary).ToList();
        if (primaries.Count <= 1)
        {
            return primaries.Count == 1 ? primaries[0] : -1;
        }

        if (primaries.Any(i => states[i].Term is null))
        {
            return -1;
        }

        var highest = primaries.Max(i => states[i].Term!.Value);
        var top = primaries.Where(i => states[i].Term == highest).ToList();
        return top.Count == 1 ? top[0] : -1;
    }

    /// <summary>The hosts that say they take writes (several: a switchover's moment, or a split brain).</summary>
    private List<string> PrimaryTargets(TopologySnapshot snapshot) =>
        [.. Hosts.Where((_, i) => snapshot.Hosts[i].ReportsPrimary).Select(h => h.Target)];

    private ResiliencePipeline CreateBreaker(int index) => new ResiliencePipelineBuilder()
        .AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            // Polly breaks on a failure ratio within a sampling window, and the successes before a run of failures stay in
            // that window: a ratio of 1 would open only once they aged out (30 s). So the host counts its failures in a
            // row itself, and only the one that reaches the threshold is a failure to Polly, which then breaks at once
            // (ratio 0: any handled failure breaks). In half-open, a failed probe is still past the threshold: it re-opens.
            FailureRatio = 0,
            MinimumThroughput = 2,
            SamplingDuration = TimeSpan.FromSeconds(Math.Max(30, Settings.BreakDuration.TotalSeconds * 2)),
            BreakDuration = Settings.BreakDuration,
            ShouldHandle = args => new ValueTask<bool>(args.Outcome.Exception is DatabaseConnectionException
                && Volatile.Read(ref Hosts[index].ConsecutiveFailures) >= Settings.FailureThreshold),
            OnOpened = args =>
            {
                PublishBreaker(index, BreakerState.Open, Stopwatch.GetTimestamp() + (long)(args.BreakDuration.TotalSeconds * Stopwatch.Frequency));
                LogBreakerOpened(_logger, Name, Hosts[index].Target, args.BreakDuration.TotalSeconds);
                return default;
            },
            OnHalfOpened = _ =>
            {
                PublishBreaker(index, BreakerState.HalfOpen, 0);
                return default;
            },
            OnClosed = _ =>
            {
                PublishBreaker(index, BreakerState.Closed, 0);
                LogBreakerClosed(_logger, Name, Hosts[index].Target);
                return default;
            },
        })
        .Build();

    private void PublishBreaker(int index, BreakerState state, long until)
    {
        lock (_publishLock)
        {
            var snapshot = _snapshot;
            _snapshot = snapshot.WithHost(index, snapshot.Hosts[index] with { Breaker = state, BreakerUntil = until });
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try
            {
                Monitor.Dispose();
            }
            finally
            {
                // The hosts' pools go whatever the monitor's end was.
                foreach (var host in Hosts)
                {
                    host.DataSource.Dispose();
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try
            {
                await Monitor.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                foreach (var host in Hosts)
                {
                    await host.DataSource.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>The state of one routed checkout across retries: which hosts already failed it, whether it has waited.</summary>
    internal sealed class OpenAttempt(ReplicaSet set, SessionRoute? route, IOBehavior io, ReplicationPosition? required)
    {
        public ReplicaSet Set { get; } = set;

        public IOBehavior Io { get; } = io;

        public bool WantsPrimary { get; } = route is null || route.WantsPrimary;

        public ReplicationPosition? Required { get; } = required;

        public ulong Excluded { get; private set; }

        public bool Waited { get; set; }

        public void Exclude(int index) => Excluded |= 1UL << index;
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Database {Database}: {Host} is now {Role} (was {Previous})")]
    private static partial void LogHostRole(ILogger logger, string database, string host, string role, string previous);

    [LoggerMessage(EventId = 1110, Level = LogLevel.Information, Message = "Database {Database}: {Host} is {Role}")]
    private static partial void LogHostSeen(ILogger logger, string database, string host, string role);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Database {Database}: {Host} is unreachable ({Reason})")]
    private static partial void LogHostUnreachable(ILogger logger, string database, string host, string reason);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "Database {Database}: read-write sessions go to {Host}")]
    private static partial void LogPrimary(ILogger logger, string database, string host);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "Database {Database}: no primary; read-write sessions fail until one is seen")]
    private static partial void LogNoPrimary(ILogger logger, string database);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "Database {Database}: several hosts report themselves primary ({Hosts}); writes stay on {Chosen}")]
    private static partial void LogSeveralPrimaries(ILogger logger, string database, string hosts, string chosen);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Warning, Message = "Database {Database}: circuit breaker for {Host} opened for {Seconds} s after repeated connection failures")]
    private static partial void LogBreakerOpened(ILogger logger, string database, string host, double seconds);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Information, Message = "Database {Database}: circuit breaker for {Host} closed")]
    private static partial void LogBreakerClosed(ILogger logger, string database, string host);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Debug, Message = "Database {Database}: waiting on {Host} for a read-your-writes position failed ({ErrorType}); reading elsewhere")]
    private static partial void LogWaitFailed(ILogger logger, string database, string host, string errorType);
}
