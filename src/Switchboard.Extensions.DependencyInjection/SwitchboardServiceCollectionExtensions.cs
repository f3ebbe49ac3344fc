using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard;
using Switchboard.Extensions.DependencyInjection;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Switchboard in a service collection.</summary>
public static class SwitchboardServiceCollectionExtensions
{
    /// <summary>
    /// Adds the databases of a configuration section (usually <c>configuration.GetSection("Databases")</c>):
    /// <list type="bullet">
    /// <item><see cref="SwitchboardCatalog"/> as a singleton, built and validated when the host starts (a broken
    /// configuration stops the start with <see cref="CatalogConfigurationException"/> listing every problem) and
    /// disposed, closing every pool, when the host stops;</item>
    /// <item><see cref="DatabaseSession"/> per scope (HTTP request), keyed by database name
    /// (<c>[FromKeyedServices("orders")] DatabaseSession orders</c>), plus the default database unkeyed;</item>
    /// <item><see cref="DatabaseSessionScope"/>, the scope's sessions, committed together by <c>WithUnitOfWork()</c>.</item>
    /// </list>
    /// Calling it again adds more configuration to the same catalog.
    /// </summary>
    public static SwitchboardBuilder AddSwitchboard(this IServiceCollection services, IConfiguration section,
        Action<SwitchboardCatalogBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        var builder = services.AddSwitchboard();
        builder.Registration.Configurations.Add((catalog, _) => catalog.AddConfiguration(section));
        if (configure is not null)
        {
            builder.Registration.Configurations.Add((catalog, _) => configure(catalog));
        }

        return builder;
    }

    /// <summary>Adds databases configured in code, for example <c>b => b.AddDatabase("orders", url)</c>.</summary>
    public static SwitchboardBuilder AddSwitchboard(this IServiceCollection services, Action<SwitchboardCatalogBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var builder = services.AddSwitchboard();
        builder.Registration.Configurations.Add((catalog, _) => configure(catalog));
        return builder;
    }

    private static SwitchboardBuilder AddSwitchboard(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var existing = services.FirstOrDefault(d => d.ServiceType == typeof(SwitchboardRegistration) && !d.IsKeyedService)?.ImplementationInstance;
        if (existing is SwitchboardRegistration registration)
        {
            return new SwitchboardBuilder(services, registration);
        }

        registration = new SwitchboardRegistration();
        services.AddSingleton(registration);
        services.AddSingleton(BuildCatalog);
        services.AddHostedService<SwitchboardStartupCheck>();
        services.TryAddScoped(static sp => new DatabaseSessionScope(sp.GetRequiredService<SwitchboardCatalog>(),
            sp.GetRequiredService<SwitchboardRegistration>(), sp.GetRequiredService<ILogger<DatabaseSessionScope>>()));

        // Any key resolves: names configured in code or in configuration alike; an unknown one fails with the configured names.
        services.AddKeyedScoped<DatabaseSession>(KeyedService.AnyKey, static (sp, key) =>
            sp.GetRequiredService<DatabaseSessionScope>().Get(key as string
                ?? throw new ArgumentException($"A database session is keyed by the database's name (a string), not by '{key}'.", nameof(key))));
        services.TryAddScoped(static sp => sp.GetRequiredService<DatabaseSessionScope>().GetDefault());
        return new SwitchboardBuilder(services, registration);
    }

    private static SwitchboardCatalog BuildCatalog(IServiceProvider services)
    {
        var registration = services.GetRequiredService<SwitchboardRegistration>();
        var builder = SwitchboardCatalog.CreateBuilder()
            .UseLoggerFactory(services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance);
        foreach (var configure in registration.Configurations)
        {
            configure(builder, services);
        }

        var catalog = builder.Build();
        if (registration.DefaultDatabase is { } name && !catalog.Contains(name))
        {
            catalog.Dispose();
            throw new UnknownDatabaseException(name, catalog.Names);
        }

        return catalog;
    }
}
