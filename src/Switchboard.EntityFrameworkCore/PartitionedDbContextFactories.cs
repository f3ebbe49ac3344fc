using Microsoft.EntityFrameworkCore;
using Switchboard.Sharding;

namespace Switchboard.EntityFrameworkCore;

/// <summary>Tenant contexts: the tenant's connection is checked out through the tenant set (its cap, its eviction rules).</summary>
internal sealed class SwitchboardTenantDbContextFactory<TContext>(SwitchboardCatalog catalog, string tenantSet, SwitchboardDbContextOptions options,
    IServiceProvider services) : ISwitchboardTenantDbContextFactory<TContext>
    where TContext : DbContext
{
    private readonly SharedContextPools<TContext> _pools = new(tenantSet, options, services);

    public string TenantSet => tenantSet;

    public TContext CreateDbContext(string tenantId, SessionIntent intent = SessionIntent.ReadWrite)
    {
        var tenant = catalog.Tenants(tenantSet).ForTenant(tenantId);
        return _pools.Create(tenant.OpenConnection(), tenant.DatabaseName, intent);
    }

    public async ValueTask<TContext> CreateDbContextAsync(string tenantId, SessionIntent intent = SessionIntent.ReadWrite,
        CancellationToken cancellationToken = default)
    {
        var tenant = catalog.Tenants(tenantSet).ForTenant(tenantId);
        var connection = await tenant.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return _pools.Create(connection, tenant.DatabaseName, intent);
    }
}

/// <summary>Shard contexts: an unopened connection of the shard's engine, for the intent (replicas for reads).</summary>
internal sealed class SwitchboardShardDbContextFactory<TContext>(SwitchboardCatalog catalog, string shardMap, SwitchboardDbContextOptions options,
    IServiceProvider services) : ISwitchboardShardDbContextFactory<TContext>
    where TContext : DbContext
{
    private readonly SharedContextPools<TContext> _pools = new(shardMap, options, services);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _preparedFiles = new(StringComparer.OrdinalIgnoreCase);

    public string ShardMap => shardMap;

    public TContext CreateDbContext(ShardKey key, SessionIntent intent = SessionIntent.ReadWrite) =>
        CreateDbContext(catalog.Shards(shardMap).ForKey(key), intent);

    public async ValueTask<TContext> CreateDbContextAsync(ShardKey key, SessionIntent intent = SessionIntent.ReadWrite,
        CancellationToken cancellationToken = default) =>
        CreateDbContext(await catalog.Shards(shardMap).ForKeyAsync(key, cancellationToken).ConfigureAwait(false), intent);

    public TContext CreateDbContext(Shard shard, SessionIntent intent = SessionIntent.ReadWrite)
    {
        ArgumentNullException.ThrowIfNull(shard);
        if (!string.Equals(shard.Map.Name, shardMap, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"Shard {shard} belongs to shard map '{shard.Map.Name}', not '{shardMap}'.", nameof(shard));
        }

        var engine = shard.Engine;
        if (engine.Dialect.Name == "sqlite" && _preparedFiles.TryAdd(shard.DatabaseName, true))
        {
            // As for a named database: one checkout through the engine creates the file's folder and sets its journal mode.
            engine.OpenConnection().Dispose();
        }

        var source = intent == SessionIntent.ReadOnly ? engine.ReadOnlyDataSource : engine.DataSource;
        return _pools.Create(source.CreateConnection(), shard.DatabaseName, intent);
    }
}
