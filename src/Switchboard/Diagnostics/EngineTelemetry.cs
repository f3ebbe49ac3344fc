using System.Diagnostics;

namespace Switchboard.Diagnostics;

/// <summary>
/// One engine's precomputed tags and span names, built once per engine so that recording a measurement or starting a
/// span on the session path allocates nothing beyond the span itself. Holds no secret: the target's host, port and
/// database name only.
/// </summary>
internal sealed class EngineTelemetry
{
    private readonly KeyValuePair<string, object?>[] _metricTags;
    private readonly KeyValuePair<string, object?>[] _readWriteTags;
    private readonly KeyValuePair<string, object?>[] _readOnlyTags;

    public EngineTelemetry(DatabaseDefinition definition)
    {
        Name = definition.Name;
        _metricTags =
        [
            new(SwitchboardTelemetry.DatabaseTag, definition.Name),
            new(SwitchboardTelemetry.SystemTag, definition.Dialect.Name),
        ];
        _readWriteTags = [.. _metricTags, new(SwitchboardTelemetry.IntentTag, SwitchboardTelemetry.IntentName(SessionIntent.ReadWrite))];
        _readOnlyTags = [.. _metricTags, new(SwitchboardTelemetry.IntentTag, SwitchboardTelemetry.IntentName(SessionIntent.ReadOnly))];

        var spanTags = new List<KeyValuePair<string, object?>>(_metricTags);
        if (definition.Connection.Database is { Length: > 0 } database)
        {
            spanTags.Add(new(SwitchboardTelemetry.NamespaceTag, database));
        }

        if (definition.Connection.Hosts.Count > 0)
        {
            var host = definition.Connection.Hosts[0];
            spanTags.Add(new(SwitchboardTelemetry.ServerAddressTag, host.Host));
            if (host.Port is { } port)
            {
                spanTags.Add(new(SwitchboardTelemetry.ServerPortTag, port));
            }
        }

        SpanTags = [.. spanTags];
        SessionSpanName = "session " + definition.Name;
        CommitSpanName = "COMMIT " + definition.Name;
        RollbackSpanName = "ROLLBACK " + definition.Name;
    }

    public string Name { get; }

    /// <summary>switchboard.database and db.system.</summary>
    public ReadOnlySpan<KeyValuePair<string, object?>> MetricTags => _metricTags;

    /// <summary>The metric tags plus db.namespace, server.address and server.port.</summary>
    public KeyValuePair<string, object?>[] SpanTags { get; }

    public string SessionSpanName { get; }

    public string CommitSpanName { get; }

    public string RollbackSpanName { get; }

    public ReadOnlySpan<KeyValuePair<string, object?>> SessionTags(SessionIntent intent) =>
        intent == SessionIntent.ReadOnly ? _readOnlyTags : _readWriteTags;

    public void RecordCheckout(long startedTimestamp)
    {
        if (SwitchboardTelemetry.CheckoutWait.Enabled)
        {
            SwitchboardTelemetry.CheckoutWait.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, MetricTags);
        }
    }

    public void RecordTimeout()
    {
        if (SwitchboardTelemetry.CheckoutTimeouts.Enabled)
        {
            SwitchboardTelemetry.CheckoutTimeouts.Add(1, MetricTags);
        }
    }

    public void RecordConnectFailure()
    {
        if (SwitchboardTelemetry.ConnectFailures.Enabled)
        {
            SwitchboardTelemetry.ConnectFailures.Add(1, MetricTags);
        }
    }

    /// <summary>Starts the span of one session's transaction (from checkout to commit, rollback or dispose), or null when nobody listens.</summary>
    public Activity? StartSession(SessionIntent intent)
    {
        if (!SwitchboardTelemetry.Source.HasListeners())
        {
            return null;
        }

        var activity = SwitchboardTelemetry.Source.StartActivity(SwitchboardTelemetry.SessionSpan, ActivityKind.Internal, parentContext: default, SpanTags);
        if (activity is not null)
        {
            activity.DisplayName = SessionSpanName;
            activity.SetTag(SwitchboardTelemetry.IntentTag, SwitchboardTelemetry.IntentName(intent));
        }

        return activity;
    }

    /// <summary>Starts a COMMIT or ROLLBACK span as a child of the session's span (or of the current span).</summary>
    public Activity? StartEnd(bool commit, Activity? session)
    {
        if (!SwitchboardTelemetry.Source.HasListeners())
        {
            return null;
        }

        var activity = SwitchboardTelemetry.Source.StartActivity(commit ? SwitchboardTelemetry.CommitSpan : SwitchboardTelemetry.RollbackSpan,
            ActivityKind.Client, session?.Context ?? default, SpanTags);
        if (activity is not null)
        {
            activity.DisplayName = commit ? CommitSpanName : RollbackSpanName;
            activity.SetTag(SwitchboardTelemetry.OperationTag, commit ? "COMMIT" : "ROLLBACK");
        }

        return activity;
    }
}
