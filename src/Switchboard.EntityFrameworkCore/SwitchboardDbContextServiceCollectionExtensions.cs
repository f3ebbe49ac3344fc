using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Switchboard;
using Switchboard.EntityFrameworkCore;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers EF Core contexts bound to Switchboard databases.</summary>
public static class SwitchboardDbContextServiceCollectionExtensions
{
    /// <summary>
    /// Binds <typeparamref name="TContext"/> to the named database: registers <see cref="ISwitchboardDbContextFactory{TContext}"/>
    /// (pooled; <c>CreateDbContext(SessionIntent.ReadOnly)</c> for reads), <see cref="IDbContextFactory{TContext}"/> (read-write)
    /// and a scoped read-write <typeparamref name="TContext"/>. Needs <c>AddSwitchboard</c> (or a <see cref="SwitchboardCatalog"/>
    /// singleton). The context needs a public constructor taking <c>DbContextOptions&lt;TContext&gt;</c>.
    /// </summary>
    public static IServiceCollection AddSwitchboardDbContext<TContext>(this IServiceCollection services, string database,
        Action<SwitchboardDbContextOptions>? configure = null)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(database);
        var options = new SwitchboardDbContextOptions();
        configure?.Invoke(options);
        services.TryAddSingleton<ISwitchboardDbContextFactory<TContext>>(sp =>
            new SwitchboardDbContextFactory<TContext>(sp.GetRequiredService<SwitchboardCatalog>(), database, options, sp));
        services.TryAddSingleton<IDbContextFactory<TContext>>(sp => sp.GetRequiredService<ISwitchboardDbContextFactory<TContext>>());
        services.TryAddScoped(sp => sp.GetRequiredService<ISwitchboardDbContextFactory<TContext>>().CreateDbContext());
        return services;
    }

    /// <summary>
    /// Binds <typeparamref name="TContext"/> to the tenants of a tenant set: registers
    /// <see cref="ISwitchboardTenantDbContextFactory{TContext}"/> (<c>CreateDbContextAsync(tenantId, intent)</c>). Every tenant
    /// shares one context pool per intent; each context holds its tenant's connection, counted by the set's connection cap,
    /// until disposed. PostgreSQL and SQLite tenants.
    /// </summary>
    public static IServiceCollection AddSwitchboardTenantDbContext<TContext>(this IServiceCollection services, string tenantSet,
        Action<SwitchboardDbContextOptions>? configure = null)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(tenantSet);
        var options = new SwitchboardDbContextOptions();
        configure?.Invoke(options);
        services.TryAddSingleton<ISwitchboardTenantDbContextFactory<TContext>>(sp =>
            new SwitchboardTenantDbContextFactory<TContext>(sp.GetRequiredService<SwitchboardCatalog>(), tenantSet, options, sp));
        return services;
    }

    /// <summary>
    /// Binds <typeparamref name="TContext"/> to the shards of a shard map: registers
    /// <see cref="ISwitchboardShardDbContextFactory{TContext}"/> (<c>CreateDbContextAsync(key, intent)</c>). Every shard shares
    /// one context pool per intent. PostgreSQL and SQLite shards.
    /// </summary>
    public static IServiceCollection AddSwitchboardShardDbContext<TContext>(this IServiceCollection services, string shardMap,
        Action<SwitchboardDbContextOptions>? configure = null)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(shardMap);
        var options = new SwitchboardDbContextOptions();
        configure?.Invoke(options);
        services.TryAddSingleton<ISwitchboardShardDbContextFactory<TContext>>(sp =>
            new SwitchboardShardDbContextFactory<TContext>(sp.GetRequiredService<SwitchboardCatalog>(), shardMap, options, sp));
        return services;
    }
}
