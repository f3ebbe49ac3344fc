namespace Switchboard;

/// <summary>
/// The names under which Switchboard publishes metrics and traces, for <c>AddMeter</c> / <c>AddSource</c> in
/// OpenTelemetry or a <see cref="System.Diagnostics.Metrics.MeterListener"/>. Instruments and spans are listed in
/// docs/aspnetcore.md. Tags follow the OpenTelemetry database conventions (<c>db.system</c>, <c>db.namespace</c>,
/// <c>server.address</c>) plus <c>switchboard.database</c>, the configured name; they never carry SQL parameter
/// values or credentials. Nothing is measured or allocated while nobody listens.
/// </summary>
public static class SwitchboardDiagnostics
{
    /// <summary>The name of Switchboard's <see cref="System.Diagnostics.Metrics.Meter"/>.</summary>
    public const string MeterName = "Switchboard";

    /// <summary>The name of Switchboard's <see cref="System.Diagnostics.ActivitySource"/>.</summary>
    public const string ActivitySourceName = "Switchboard";

    /// <summary>
    /// The tag naming the database (as the application names it) on Switchboard's spans and metrics, and on the driver's
    /// own statement spans where the driver lets a data source enrich them (Npgsql).
    /// </summary>
    public const string DatabaseTag = "switchboard.database";
}
