using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Switchboard.AspNetCore.Tests.Infrastructure;

/// <summary>One measurement of a Switchboard instrument, with its tags.</summary>
public sealed record Measured(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

/// <summary>
/// Listens to the "Switchboard" meter and activity source for one test. Other tests run at the same time, so readers
/// filter by the database name their test made unique.
/// </summary>
public sealed class TelemetryCapture : IDisposable
{
    private readonly MeterListener _meters = new();
    private readonly ActivityListener _activities;

    public TelemetryCapture()
    {
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == SwitchboardDiagnostics.MeterName)
            {
                Instruments[instrument.Name] = instrument;
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _meters.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _meters.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _meters.Start();
        _activities = new ActivityListener
        {
            // Npgsql's statement spans too: Switchboard's data sources tag them with the database's name.
            ShouldListenTo = source => source.Name is SwitchboardDiagnostics.ActivitySourceName or "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => Spans.Add(a),
        };
        ActivitySource.AddActivityListener(_activities);
    }

    public ConcurrentDictionary<string, Instrument> Instruments { get; } = new();

    public ConcurrentBag<Measured> Measurements { get; } = [];

    public ConcurrentBag<Activity> Spans { get; } = [];

    public void CollectObservables() => _meters.RecordObservableInstruments();

    public IReadOnlyList<Measured> For(string instrument, string database) =>
        Measurements.Where(m => m.Instrument == instrument && Equals(m.Tags.GetValueOrDefault("switchboard.database"), database)).ToList();

    public IReadOnlyList<Activity> SpansFor(string database) =>
        Spans.Where(a => Equals(a.GetTagItem("switchboard.database"), database)).ToList();

    public void Dispose()
    {
        _meters.Dispose();
        _activities.Dispose();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        Measurements.Add(new Measured(instrument.Name, value, copy));
    }
}
