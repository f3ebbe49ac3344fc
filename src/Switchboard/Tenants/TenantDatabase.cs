using System.Data.Common;
using Switchboard.Internal;

namespace Switchboard.Tenants;

/// <summary>
/// One tenant's database, as a handle: cheap to get (<see cref="TenantSet.ForTenant"/>), it resolves and opens nothing
/// until used. Sessions keep the tenant's engine from being evicted until they are disposed.
/// </summary>
public sealed class TenantDatabase
{
    internal TenantDatabase(TenantSet set, string tenantId)
    {
        Set = set;
        TenantId = tenantId;
    }

    public TenantSet Set { get; }

    public string TenantId { get; }

    /// <summary>The name the tenant's database has in messages and logs: <c>set/tenant</c>.</summary>
    public string DatabaseName => Set.Name + "/" + TenantId;

    /// <summary>
    /// Opens a session on the tenant's database. The engine is created on first use (for a catalog-table set, the
    /// table may be asked: blocking; prefer <see cref="OpenSessionAsync"/>). No connection is taken until the session is used.
    /// </summary>
    public DatabaseSession OpenSession(SessionOptions? options = null) =>
        Set.OpenSessionAsync(TenantId, options, IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="OpenSession"/>
    public ValueTask<DatabaseSession> OpenSessionAsync(SessionOptions? options = null, CancellationToken cancellationToken = default) =>
        Set.OpenSessionAsync(TenantId, options, IOBehavior.Asynchronous, cancellationToken);

    /// <summary>Checks out an open connection of the tenant's pool (counted by the set's limit); closing it returns it.</summary>
    public DbConnection OpenConnection() =>
        Set.OpenConnectionAsync(TenantId, IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="OpenConnection"/>
    public ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default) =>
        Set.OpenConnectionAsync(TenantId, IOBehavior.Asynchronous, cancellationToken);

    /// <summary>The tenant engine's pool, or null when no engine is in memory for it.</summary>
    public PoolStatistics? GetPoolStatistics() => Set.GetPoolStatistics(TenantId);

    /// <summary>Creates the tenant's database (see <see cref="TenantSet.CreateAsync"/>).</summary>
    public Task CreateAsync(CancellationToken cancellationToken = default) => Set.CreateAsync(TenantId, cancellationToken);

    /// <summary>Drops the tenant's database (see <see cref="TenantSet.DropAsync"/>).</summary>
    public Task<bool> DropAsync(CancellationToken cancellationToken = default) => Set.DropAsync(TenantId, cancellationToken);

    public Task<bool> ExistsAsync(CancellationToken cancellationToken = default) => Set.ExistsAsync(TenantId, cancellationToken);

    public override string ToString() => DatabaseName;
}

/// <summary>A snapshot of a tenant set: its engines, and the connections counted by its limit (shared with its group, if any).</summary>
/// <param name="Engines">Tenant engines in memory now.</param>
/// <param name="EnginesCreated">Engines created since start.</param>
/// <param name="EnginesEvicted">Engines evicted (idle or least recently used) since start; each eviction closed its pool.</param>
/// <param name="OpenConnections">Physical connections counted open now (checked out, idle in a pool, or closing).</param>
/// <param name="InUseConnections">Connections checked out now.</param>
/// <param name="ConnectionLimit">The cap (<see cref="TenantSetOptions.MaxOpenConnections"/>).</param>
/// <param name="PeakOpenConnections">The most connections ever counted open at once.</param>
/// <param name="Waiting">Checkouts waiting for the limit now.</param>
/// <param name="LimitWaits">Checkouts that had to wait for the limit since start.</param>
/// <param name="LimitTimeouts">Checkouts that gave up waiting (<see cref="TenantConnectionLimitException"/>).</param>
/// <param name="IdleConnectionsClosed">Times an engine's idle connections were closed to make room for another tenant.</param>
public readonly record struct TenantStatistics(
    int Engines,
    long EnginesCreated,
    long EnginesEvicted,
    int OpenConnections,
    int InUseConnections,
    int ConnectionLimit,
    int PeakOpenConnections,
    int Waiting,
    long LimitWaits,
    long LimitTimeouts,
    long IdleConnectionsClosed)
{
    public override string ToString() =>
        $"{Engines} engines, {OpenConnections}/{ConnectionLimit} connections open ({InUseConnections} in use, peak {PeakOpenConnections}), {Waiting} waiting";
}
