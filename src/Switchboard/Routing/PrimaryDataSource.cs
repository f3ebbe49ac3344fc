using System.Data.Common;

namespace Switchboard.Routing;

/// <summary>
/// <see cref="DatabaseEngine.DataSource"/> of a replicated database, for libraries that want a plain
/// <see cref="DbDataSource"/> (EF Core): each connection it creates belongs to the host that is primary at that moment,
/// so after a failover new connections follow the new primary with no restart. Throws <see cref="NoPrimaryException"/>
/// while there is none. Disposing it does nothing: the engine owns the hosts' pools.
/// </summary>
internal sealed class PrimaryDataSource(ReplicaSet set) : DbDataSource
{
    public override string ConnectionString => set.CurrentPrimary().DataSource.ConnectionString;

    protected override DbConnection CreateDbConnection() => set.CurrentPrimary().DataSource.CreateConnection();
}
