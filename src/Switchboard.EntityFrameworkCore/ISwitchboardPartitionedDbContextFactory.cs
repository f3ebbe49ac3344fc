using Microsoft.EntityFrameworkCore;
using Switchboard.Sharding;

namespace Switchboard.EntityFrameworkCore;

/// <summary>
/// Creates contexts bound to one tenant of a tenant set (<c>AddSwitchboardTenantDbContext</c>). All tenants share one
/// context pool per intent: a context is taken from it and given the tenant's connection, so thousands of tenants do not
/// mean thousands of pools. The connection is checked out of the tenant's pool when the context is created — counted by
/// the set's <c>MaxOpenConnections</c> and waiting for it like a session — and returned when the context is disposed:
/// keep contexts short-lived, as sessions are.
/// </summary>
public interface ISwitchboardTenantDbContextFactory<TContext>
    where TContext : DbContext
{
    /// <summary>The tenant set the contexts work on.</summary>
    string TenantSet { get; }

    /// <summary>A context on <paramref name="tenantId"/>'s database. Dispose it to return its connection and the context.</summary>
    TContext CreateDbContext(string tenantId, SessionIntent intent = SessionIntent.ReadWrite);

    /// <inheritdoc cref="CreateDbContext(string, SessionIntent)"/>
    ValueTask<TContext> CreateDbContextAsync(string tenantId, SessionIntent intent = SessionIntent.ReadWrite, CancellationToken cancellationToken = default);
}

/// <summary>
/// Creates contexts bound to the shard of a shard key (<c>AddSwitchboardShardDbContext</c>). All shards share one context
/// pool per intent; each context gets a connection of its shard's database (read-only contexts: a replica of it, if it has
/// replicas), opened and closed by EF Core per operation like any context.
/// </summary>
public interface ISwitchboardShardDbContextFactory<TContext>
    where TContext : DbContext
{
    /// <summary>The shard map the contexts work on.</summary>
    string ShardMap { get; }

    /// <summary>A context on the shard that holds <paramref name="key"/> (a directory map may be asked: prefer the async form).</summary>
    TContext CreateDbContext(ShardKey key, SessionIntent intent = SessionIntent.ReadWrite);

    /// <inheritdoc cref="CreateDbContext(ShardKey, SessionIntent)"/>
    ValueTask<TContext> CreateDbContextAsync(ShardKey key, SessionIntent intent = SessionIntent.ReadWrite, CancellationToken cancellationToken = default);

    /// <summary>A context on one given shard (for work over every shard, one at a time).</summary>
    TContext CreateDbContext(Shard shard, SessionIntent intent = SessionIntent.ReadWrite);
}
