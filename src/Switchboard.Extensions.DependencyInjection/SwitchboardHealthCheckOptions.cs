using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Switchboard.Extensions.DependencyInjection;

/// <summary>Options of the per-database health checks added by <see cref="SwitchboardBuilder.AddHealthChecks"/>.</summary>
public sealed class SwitchboardHealthCheckOptions
{
    /// <summary>The tag every Switchboard health check carries.</summary>
    public const string Tag = "switchboard";

    /// <summary>Prepended to each check's name, which is otherwise the database's name. Default: none.</summary>
    public string NamePrefix { get; set; } = "";

    /// <summary>Only these databases get a check. Default (empty): every configured database.</summary>
    public ICollection<string> Databases { get; } = new List<string>();

    /// <summary>
    /// Extra tags for every check (each also has <c>switchboard</c>, its database name, its dialect and its role; a host check
    /// also <c>host</c>).
    /// </summary>
    public ICollection<string> Tags { get; } = new List<string>();

    /// <summary>How long a check waits for the ping (including checkout). Default 5 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>What an unreachable database reports. Default <see cref="HealthStatus.Unhealthy"/>.</summary>
    public HealthStatus FailureStatus { get; set; } = HealthStatus.Unhealthy;

    /// <summary>A ping slower than this reports <see cref="HealthStatus.Degraded"/>. Default: never.</summary>
    public TimeSpan? DegradedLatency { get; set; }

    /// <summary>
    /// A replica whose replication lag exceeds this reports <see cref="HealthStatus.Degraded"/> in its host check. Default
    /// (null): the database's own <c>Routing:MaxReplicaLag</c> (past which it gets no reads); no limit when that is off.
    /// </summary>
    public TimeSpan? MaxReplicaLag { get; set; }

    /// <summary>Whether a replicated database also gets one check per host (see <see cref="SwitchboardBuilder.AddHealthChecks"/>). Default true.</summary>
    public bool PerHost { get; set; } = true;
}
