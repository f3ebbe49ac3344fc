using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Switchboard.Extensions.DependencyInjection;

/// <summary>
/// Pings one database through its engine (so the check also sees an exhausted pool) and reports latency, role and pool
/// use. For a replicated database the ping is routed like a read-write session, so this check reports the primary (each
/// host has a <see cref="HostHealthCheck"/> of its own). The description names the database and its target, never a credential.
/// </summary>
internal sealed class DatabaseHealthCheck(SwitchboardCatalog catalog, string database, SwitchboardHealthCheckOptions options) : IHealthCheck
{
    public const string PrimaryRole = "primary";

    public const string ReplicaRole = "replica";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var definition = catalog.GetDefinition(database);
        var data = new Dictionary<string, object>
        {
            ["database"] = definition.Name,
            ["dialect"] = definition.Dialect.Name,
            ["target"] = definition.Target,
            ["role"] = PrimaryRole,
        };
        var failure = context.Registration?.FailureStatus ?? options.FailureStatus;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        try
        {
            var engine = catalog.GetEngine(database);
            var latency = await Within(() => engine.PingAsync(timeout.Token), timeout.Token).ConfigureAwait(false);
            var pool = engine.GetPoolStatistics();
            data["latency_ms"] = Math.Round(latency.TotalMilliseconds, 2);
            data["pool_in_use"] = pool.InUse;
            data["pool_max"] = pool.MaxSize;
            data["pool_waiting"] = pool.Waiting;
            if (engine.ServerVersion is { } version)
            {
                data["server_version"] = version;
            }

            var target = definition.Target;
            if (engine.IsReplicated)
            {
                var hosts = engine.GetHostStatuses();
                target = hosts.FirstOrDefault(h => h.IsPrimary)?.Target ?? target;
                data["target"] = target;
                data["hosts"] = hosts.Count;
                data["replicas_reachable"] = hosts.Count(h => h.IsReachable && h.Role == HostRole.Replica);
            }

            var status = options.DegradedLatency is { } slow && latency > slow ? HealthStatus.Degraded : HealthStatus.Healthy;
            var ms = latency.TotalMilliseconds.ToString("0.#", CultureInfo.InvariantCulture);
            return new HealthCheckResult(status, $"{definition.Name} ({definition.Dialect.Name} at {target}): {PrimaryRole}, {ms} ms", data: data);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            var seconds = options.Timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);
            return new HealthCheckResult(failure, $"{definition.Name} ({definition.Dialect.Name} at {definition.Target}): no answer within {seconds} s", data: data);
        }
        catch (Exception e) when (e is SwitchboardException or InvalidOperationException or System.Data.Common.DbException or IOException)
        {
            // Switchboard's messages already have the database's secrets scrubbed; the exception itself is left out so that
            // response writers cannot print a driver's inner text.
            data["error"] = e is DatabaseCommandException command ? command.Kind.ToString() : e.GetType().Name;
            var description = e is DatabaseConnectionException ? e.Message : $"{definition.Name} ({definition.Dialect.Name} at {definition.Target}): {e.Message}";
            return new HealthCheckResult(failure, SecretMasker.Scrub(description, definition.Secrets), data: data);
        }
    }

    /// <summary>
    /// Awaits a probe, but no longer than the token allows: a driver whose I/O ignores cancellation (MySql.Data's blocking
    /// open, say, against a server that accepts and never answers) must not hold the check past its timeout. The probe
    /// that is left behind ends on its own (its connect or command timeout); its error is observed, not thrown.
    /// </summary>
    internal static async Task<T> Within<T>(Func<ValueTask<T>> probe, CancellationToken cancellationToken)
    {
        // On a thread of its own: such a driver blocks before it even returns a task.
        var task = Task.Run(() => probe().AsTask(), CancellationToken.None);
        try
        {
            return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !task.IsCompleted)
        {
            _ = task.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            throw;
        }
    }
}
