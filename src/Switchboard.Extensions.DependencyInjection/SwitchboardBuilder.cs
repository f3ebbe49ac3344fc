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
    /// Adds one health check per database (named after it, tagged <c>switchboard</c>, its name, its dialect and its role),
    /// which pings it and reports latency, role and pool use. Map them with <c>app.MapHealthChecks("/health")</c>, or select
    /// some with a predicate on the tags.
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
            }
        });
        return this;
    }
}

/// <summary>What <c>AddSwitchboard</c> collected; read once, when the catalog is built.</summary>
internal sealed class SwitchboardRegistration
{
    public List<Action<SwitchboardCatalogBuilder, IServiceProvider>> Configurations { get; } = [];

    public string? DefaultDatabase { get; set; }
}
