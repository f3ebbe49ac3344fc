using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Switchboard.Extensions.DependencyInjection;

/// <summary>
/// One host of a replicated database: pings that host itself (its own pool, not routed), and reports the role and
/// replication lag the topology monitor last saw for it. Degraded when the host answers but is a replica lagging more than
/// the limit (or of unknown lag), has its circuit breaker open, or has not been seen by the monitor yet; unhealthy when the
/// ping fails. The description names the database and the host, never a credential.
/// </summary>
internal sealed class HostHealthCheck(SwitchboardCatalog catalog, string database, string target, SwitchboardHealthCheckOptions options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var definition = catalog.GetDefinition(database);
        var data = new Dictionary<string, object>
        {
            ["database"] = definition.Name,
            ["dialect"] = definition.Dialect.Name,
            ["target"] = target,
        };
        var name = $"{definition.Name} ({definition.Dialect.Name} at {target})";
        var failure = context.Registration?.FailureStatus ?? options.FailureStatus;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        TimeSpan latency;
        var engine = catalog.GetEngine(database);
        try
        {
            latency = await DatabaseHealthCheck.Within(() => engine.PingHostAsync(target, timeout.Token), timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            AddStatus(engine, data);
            var seconds = options.Timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);
            return new HealthCheckResult(failure, $"{name}: no answer within {seconds} s", data: data);
        }
        catch (Exception e) when (e is SwitchboardException or InvalidOperationException or System.Data.Common.DbException or IOException)
        {
            AddStatus(engine, data);
            data["error"] = e is DatabaseCommandException command ? command.Kind.ToString() : e.GetType().Name;
            var description = e is DatabaseConnectionException ? e.Message : $"{name}: {e.Message}";
            return new HealthCheckResult(failure, SecretMasker.Scrub(description, definition.Secrets), data: data);
        }

        data["latency_ms"] = Math.Round(latency.TotalMilliseconds, 2);
        var status = AddStatus(engine, data);
        var problems = new List<string>();
        var role = (string)data["role"];
        if (status is null || !status.IsReachable)
        {
            problems.Add("answers, but the topology monitor has not reached it yet");
        }
        else if (!status.IsPrimary && status.Role == HostRole.Replica)
        {
            var limit = options.MaxReplicaLag ?? definition.Routing?.MaxReplicaLag;
            if (status.Lag is not { } lag)
            {
                problems.Add("replication lag unknown");
            }
            else if (limit is { } max && lag > max)
            {
                problems.Add($"lag {Ms(lag)} ms exceeds {Ms(max)} ms");
            }
        }

        if (status is { Breaker: not BreakerState.Closed })
        {
            problems.Add($"circuit breaker {status.Breaker.ToString().ToLowerInvariant()}");
        }

        if (options.DegradedLatency is { } slow && latency > slow)
        {
            problems.Add($"slower than {Ms(slow)} ms");
        }

        var lagText = status?.Lag is { } l && role == DatabaseHealthCheck.ReplicaRole ? $", lag {Ms(l)} ms" : "";
        var text = $"{name}: {role}{lagText}, {Ms(latency)} ms" + (problems.Count == 0 ? "" : " (" + string.Join("; ", problems) + ")");
        return new HealthCheckResult(problems.Count == 0 ? HealthStatus.Healthy : HealthStatus.Degraded, text, data: data);
    }

    /// <summary>Adds what the topology monitor last saw of this host; returns it (null if the host is no longer listed).</summary>
    private HostStatus? AddStatus(DatabaseEngine engine, Dictionary<string, object> data)
    {
        var status = engine.GetHostStatuses().FirstOrDefault(h => string.Equals(h.Target, target, StringComparison.OrdinalIgnoreCase));
        data["role"] = status switch
        {
            { IsPrimary: true } => DatabaseHealthCheck.PrimaryRole,
            { IsReachable: true, Role: HostRole.Primary } => DatabaseHealthCheck.PrimaryRole,
            { IsReachable: true, Role: HostRole.Replica } => DatabaseHealthCheck.ReplicaRole,
            _ => "unknown",
        };
        if (status is null)
        {
            return null;
        }

        data["is_primary"] = status.IsPrimary;
        data["reachable"] = status.IsReachable;
        if (status.Lag is { } lag)
        {
            data["lag_ms"] = Math.Round(lag.TotalMilliseconds, 2);
        }

        data["breaker"] = status.Breaker.ToString();
        data["in_use"] = status.InUse;
        if (status.LastChecked is { } at)
        {
            data["last_checked"] = at.ToString("O", CultureInfo.InvariantCulture);
        }

        return status;
    }

    private static string Ms(TimeSpan value) => value.TotalMilliseconds.ToString("0.#", CultureInfo.InvariantCulture);
}
