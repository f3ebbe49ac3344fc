using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Switchboard.Diagnostics;

/// <summary>
/// Every instrument and span name in one place, so features record through these instead of creating their own.
/// The recording methods check <see cref="Instrument.Enabled"/> / <see cref="ActivitySource.HasListeners"/> first:
/// with nobody listening they cost a field read and allocate nothing.
/// </summary>
internal static class SwitchboardTelemetry
{
    // Tag names (OpenTelemetry database semantic conventions where one exists).
    public const string DatabaseTag = SwitchboardDiagnostics.DatabaseTag;
    public const string SystemTag = "db.system";
    public const string NamespaceTag = "db.namespace";
    public const string OperationTag = "db.operation.name";
    public const string ServerAddressTag = "server.address";
    public const string ServerPortTag = "server.port";
    public const string IntentTag = "switchboard.session.intent";
    public const string OutcomeTag = "switchboard.outcome";

    public const string DatabasesTag = "switchboard.databases";
    public const string RoleTag = "switchboard.role";
    public const string ActionTag = "switchboard.recovery.action";
    public const string ErrorTypeTag = "error.type";

    // Span (activity) operation names. The display name adds the database: "COMMIT orders".
    public const string SessionSpan = "switchboard.session";
    public const string CommitSpan = "switchboard.commit";
    public const string RollbackSpan = "switchboard.rollback";

    /// <summary>Reserved for the two-phase commit's PREPARE on one participant.</summary>
    public const string PrepareSpan = "switchboard.prepare";

    /// <summary>Reserved for a query sent to several databases (shards) at once.</summary>
    public const string FanOutSpan = "switchboard.fan_out";

    /// <summary>The commit of a distributed transaction over all its participants (prepare, decision, phase two).</summary>
    public const string DistributedCommitSpan = "switchboard.distributed_commit";

    /// <summary>
    /// Phase two of a distributed commit run after <c>CommitAsync</c> returned (<c>CompleteInBackground</c>): a span of its
    /// own, linked to the commit's span rather than inside it, because it ends after it.
    /// </summary>
    public const string BackgroundCompletionSpan = "switchboard.distributed_commit.background";

    public const string TransactionIdTag = "switchboard.transaction.id";

    private static readonly ConcurrentDictionary<DatabaseEngine, byte> LiveEngines = new();

    public static readonly ActivitySource Source = new(SwitchboardDiagnostics.ActivitySourceName, Version);

    public static readonly Meter Meter = new(SwitchboardDiagnostics.MeterName, Version);

    public static readonly Counter<long> SessionsOpened = Meter.CreateCounter<long>(
        "switchboard.session.opened", "{session}", "Sessions opened (OpenSession calls).");

    public static readonly UpDownCounter<long> SessionsActive = Meter.CreateUpDownCounter<long>(
        "switchboard.session.active", "{session}", "Sessions holding a connection and an open transaction right now.");

    public static readonly Histogram<double> CheckoutWait = Meter.CreateHistogram(
        "switchboard.pool.wait_time", "s", "Time to obtain an open connection from the pool (checkout gate, open, pre-ping).",
        tags: null, advice: new InstrumentAdvice<double>
        {
            HistogramBucketBoundaries = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        });

    public static readonly Counter<long> CheckoutTimeouts = Meter.CreateCounter<long>(
        "switchboard.pool.timeouts", "{timeout}", "Checkouts that gave up because every pooled connection stayed in use.");

    public static readonly Counter<long> ConnectFailures = Meter.CreateCounter<long>(
        "switchboard.pool.connect_failures", "{failure}", "Checkouts that failed because the server could not be reached.");

    public static readonly Counter<long> RoutingDecisions = Meter.CreateCounter<long>(
        "switchboard.routing.decisions", "{decision}", "Sessions routed, by database, role chosen (primary, replica) and intent.");

    public static readonly Counter<long> Failovers = Meter.CreateCounter<long>(
        "switchboard.failovers", "{failover}", "Times a database's primary changed (promotion detected or forced).");

    public static readonly Counter<long> DistributedTransactions = Meter.CreateCounter<long>(
        "switchboard.distributed_transactions", "{transaction}", "Two-phase commits by outcome (committed, rolled_back, in_doubt).");

    public static readonly Counter<long> RecoveryActions = Meter.CreateCounter<long>(
        "switchboard.recovery.actions", "{action}", "In-doubt transactions resolved by recovery, by database and action (commit, rollback).");

    static SwitchboardTelemetry()
    {
        Meter.CreateObservableUpDownCounter("switchboard.pool.connections.in_use", ObserveInUse, "{connection}",
            "Connections checked out of each database's pool right now.");
        Meter.CreateObservableUpDownCounter("switchboard.pool.connections.max", ObserveMax, "{connection}",
            "Most connections each database's pool hands out at once (Pool:MaxSize).");
        Meter.CreateObservableUpDownCounter("switchboard.pool.pending_requests", ObserveWaiting, "{request}",
            "Callers waiting for a connection from each database's pool right now.");
    }

    private static string Version => typeof(SwitchboardTelemetry).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    /// <summary>Adds an engine to the pool gauges; called once when the engine is created.</summary>
    public static void Track(DatabaseEngine engine) => LiveEngines.TryAdd(engine, 0);

    /// <summary>Removes a disposed engine from the pool gauges.</summary>
    public static void Untrack(DatabaseEngine engine) => LiveEngines.TryRemove(engine, out _);

    /// <summary>Records a routing decision (for the replica router).</summary>
    public static void RecordRoutingDecision(string database, string role, SessionIntent intent)
    {
        if (RoutingDecisions.Enabled)
        {
            RoutingDecisions.Add(1, new KeyValuePair<string, object?>(DatabaseTag, database), new KeyValuePair<string, object?>(RoleTag, role),
                new KeyValuePair<string, object?>(IntentTag, IntentName(intent)));
        }
    }

    /// <summary>Records a change of primary (for failover detection); <paramref name="newPrimary"/> is host:port, never credentials.</summary>
    public static void RecordFailover(string database, string newPrimary)
    {
        if (Failovers.Enabled)
        {
            Failovers.Add(1, new KeyValuePair<string, object?>(DatabaseTag, database), new KeyValuePair<string, object?>(ServerAddressTag, newPrimary));
        }
    }

    /// <summary>
    /// Records how a distributed transaction ended: <c>committed</c>, <c>rolled_back</c>, <c>partial</c> or <c>in_doubt</c>,
    /// tagged with its databases (comma-separated names, in the order given: few distinct values in practice).
    /// </summary>
    public static void RecordDistributedTransaction(string outcome, IReadOnlyList<string> databases)
    {
        if (DistributedTransactions.Enabled)
        {
            DistributedTransactions.Add(1, new KeyValuePair<string, object?>(OutcomeTag, outcome), new KeyValuePair<string, object?>(DatabasesTag, string.Join(",", databases)));
        }
    }

    /// <summary>Starts the span of a distributed commit (null when nobody listens); the participants' statements nest in it.</summary>
    public static Activity? StartDistributedCommit(string transactionId, IReadOnlyList<string> databases)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var names = string.Join(",", databases);
        var activity = Source.StartActivity(DistributedCommitSpan, ActivityKind.Internal);
        if (activity is not null)
        {
            activity.DisplayName = "distributed commit " + names;
            activity.SetTag(DatabasesTag, names);
            activity.SetTag(TransactionIdTag, transactionId);
        }

        return activity;
    }

    /// <summary>
    /// Starts the span of a background phase two as a new trace root linked to <paramref name="commit"/>, the commit span
    /// (which has ended by then): the phase's statements become its children, not late children of an ended span.
    /// </summary>
    public static Activity? StartBackgroundCompletion(string transactionId, IReadOnlyList<string> databases, ActivityContext commit)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var names = string.Join(",", databases);
        var links = commit == default ? null : new[] { new ActivityLink(commit) };
        var activity = Source.StartActivity(BackgroundCompletionSpan, ActivityKind.Internal, parentContext: default, tags: null, links: links);
        if (activity is not null)
        {
            activity.DisplayName = "distributed commit (background) " + names;
            activity.SetTag(DatabasesTag, names);
            activity.SetTag(TransactionIdTag, transactionId);
        }

        return activity;
    }

    /// <summary>Records one recovery action on a database: <c>commit</c> or <c>rollback</c> of an in-doubt transaction.</summary>
    public static void RecordRecoveryAction(string database, string action)
    {
        if (RecoveryActions.Enabled)
        {
            RecoveryActions.Add(1, new KeyValuePair<string, object?>(DatabaseTag, database), new KeyValuePair<string, object?>(ActionTag, action));
        }
    }

    /// <summary>Starts a span for one database (prepare, fan-out…) with the engine's standard tags, or returns null when nobody listens.</summary>
    public static Activity? StartDatabaseSpan(string operationName, string displayName, EngineTelemetry engine, ActivityKind kind = ActivityKind.Client)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity(operationName, kind, parentContext: default, engine.SpanTags);
        if (activity is not null)
        {
            activity.DisplayName = displayName;
        }

        return activity;
    }

    /// <summary>Marks a span failed without recording the exception's message (it may quote SQL or values).</summary>
    public static void SetError(Activity? activity, Exception exception)
    {
        if (activity is null)
        {
            return;
        }

        var kind = exception is DatabaseCommandException command ? command.Kind.ToString() : exception.GetType().FullName;
        activity.SetTag(ErrorTypeTag, kind);
        activity.SetStatus(ActivityStatusCode.Error, kind);
    }

    public static string IntentName(SessionIntent intent) => intent == SessionIntent.ReadOnly ? "read_only" : "read_write";

    private static IEnumerable<Measurement<int>> ObserveInUse() =>
        LiveEngines.Keys.Select(e => new Measurement<int>(e.GetPoolStatistics().InUse, e.Telemetry.MetricTags));

    private static IEnumerable<Measurement<int>> ObserveMax() =>
        LiveEngines.Keys.Select(e => new Measurement<int>(e.Definition.Pool.MaxSize, e.Telemetry.MetricTags));

    private static IEnumerable<Measurement<int>> ObserveWaiting() =>
        LiveEngines.Keys.Select(e => new Measurement<int>(e.GetPoolStatistics().Waiting, e.Telemetry.MetricTags));
}
