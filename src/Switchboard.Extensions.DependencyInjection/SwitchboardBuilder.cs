using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Switchboard.Extensions.DependencyInjection;

/// <summary>Returned by <c>AddSwitchboard</c>: adds health checks and options to the registration.</summary>
public sealed class SwitchboardBuilder
{
    internal SwitchboardBuilder(IServiceCollection services, SwitchboardRegistration registration)
    {
        Services = services;
        Registration = registration;
    }

    public IServiceCollection Services { get; }

    internal SwitchboardRegistration Registration { get; }

    /// <summary>Further configuration of the catalog, with access to the application's services.</summary>
    public SwitchboardBuilder Configure(Action<SwitchboardCatalogBuilder, IServiceProvider> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Registration.Configurations.Add(configure);
        return this;
    }

    /// <summary>
    /// The database an unkeyed <see cref="DatabaseSession"/> parameter gets. Without it, an unkeyed session is only
    /// available when exactly one database is configured.
    /// </summary>
    public SwitchboardBuilder UseDefaultDatabase(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Registration.DefaultDatabase = name;
        return this;
    }

    /// <summary>
    /// Adds one health check per database (named after it, tagged <c>switchboard</c>, its name, its dialect and
    /// <c>primary</c>), which pings it — its primary, for a replicated database — and reports latency, role and pool use.
    /// A replicated database also gets one check per host, named <c>database/host:port</c> and tagged <c>host</c> and the
    /// role the configuration gives it (<c>replica</c> for a <c>Replicas</c> entry, else <c>primary</c>), which pings that
    /// host and reports its latency and its live role and lag. Map them with <c>app.MapHealthChecks("/health")</c>, or
    /// select some with a predicate on the tags.
    /// </summary>
    public SwitchboardBuilder AddHealthChecks(Action<SwitchboardHealthCheckOptions>? configure = null)
    {
        var options = new SwitchboardHealthCheckOptions();
        configure?.Invoke(options);
        Services.AddHealthChecks();

        // Registrations are added when the health check options are first read, after the catalog is built, so that
        // databases configured in code and in configuration are both covered.
        Services.AddOptions<HealthCheckServiceOptions>().Configure<SwitchboardCatalog>((health, catalog) =>
        {
            foreach (var name in catalog.Names)
            {
                if (options.Databases.Count > 0 && !options.Databases.Contains(name, StringComparer.OrdinalIgnoreCase))
                {
                    continue;
                }

                var definition = catalog.GetDefinition(name);
                string[] tags = [SwitchboardHealthCheckOptions.Tag, name, definition.Dialect.Name, DatabaseHealthCheck.PrimaryRole, .. options.Tags];
                health.Registrations.Add(new HealthCheckRegistration(options.NamePrefix + name,
                    _ => new DatabaseHealthCheck(catalog, name, options), options.FailureStatus, tags, options.Timeout));
                if (options.PerHost && definition.Routing is { } routing)
                {
                    AddHostChecks(health, catalog, name, definition, routing, options);
                }
            }
        });
        return this;
    }

    private static void AddHostChecks(HealthCheckServiceOptions health, SwitchboardCatalog catalog, string name, DatabaseDefinition definition,
        RoutingSettings routing, SwitchboardHealthCheckOptions options)
    {
        // "orders/db2:5432": the host without the database part, unless two hosts differ only there.
        var shortNames = routing.Hosts.Select(h => h.Target.Split('/')[0]).ToList();
        var unique = shortNames.Distinct(StringComparer.OrdinalIgnoreCase).Count() == shortNames.Count;
        for (var i = 0; i < routing.Hosts.Count; i++)
        {
            var host = routing.Hosts[i];
            var role = host.ConfiguredRole == HostRole.Replica ? DatabaseHealthCheck.ReplicaRole : DatabaseHealthCheck.PrimaryRole;
            string[] tags = [SwitchboardHealthCheckOptions.Tag, name, definition.Dialect.Name, "host", role, .. options.Tags];
            var target = host.Target;
            health.Registrations.Add(new HealthCheckRegistration($"{options.NamePrefix}{name}/{(unique ? shortNames[i] : target)}",
                _ => new HostHealthCheck(catalog, name, target, options), options.FailureStatus, tags, options.Timeout));
        }
    }
}

/// <summary>What <c>AddSwitchboard</c> collected; read once, when the catalog is built.</summary>
internal sealed class SwitchboardRegistration
{
    public List<Action<SwitchboardCatalogBuilder, IServiceProvider>> Configurations { get; } = [];

    public string? DefaultDatabase { get; set; }
}
