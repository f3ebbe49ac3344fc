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
    /// <summary>The current primary's (the driver leaves the password out), or the first host's while there is none.</summary>
    public override string ConnectionString => set.TryCurrentPrimary() is { } primary
        ? primary.DataSource.ConnectionString
        : set.Hosts[0].DataSource.ConnectionString;

    protected override DbConnection CreateDbConnection() => set.CurrentPrimary().DataSource.CreateConnection();
}
