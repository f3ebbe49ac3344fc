using System.Data.Common;

namespace Switchboard.Routing;

/// <summary>
/// <see cref="DatabaseEngine.ReadOnlyDataSource"/> of a replicated database, for libraries that want a plain
/// <see cref="DbDataSource"/> for reads (EF Core read-only contexts): each connection it creates belongs to the replica the
/// database's read policy picks at that moment (lag limit, circuit breakers), or to the primary when none qualifies and
/// <c>Routing:FallbackToPrimary</c> is on; <see cref="NoReplicaException"/> otherwise. Disposing it does nothing: the
/// engine owns the hosts' pools.
/// </summary>
internal sealed class ReplicaDataSource(ReplicaSet set) : DbDataSource
{
    /// <summary>The first replica's (the driver leaves the password out); only informational, as each connection may go elsewhere.</summary>
    public override string ConnectionString =>
        (Array.Find(set.Hosts, h => h.ConfiguredRole == HostRole.Replica) ?? set.Hosts[0]).DataSource.ConnectionString;

    protected override DbConnection CreateDbConnection() => set.ChooseReadHost().DataSource.CreateConnection();
}
