using System.Data.Common;
using System.Diagnostics.CodeAnalysis;

namespace Switchboard.Dialects;

/// <summary>What routing across a primary and its replicas needs from a dialect: every SQL string and server quirk.</summary>
public abstract partial class Dialect
{
    /// <summary>
    /// Whether a database of this kind can have several hosts (a primary and replicas) whose roles, replay positions and
    /// lag Switchboard can read. When false, <c>Replicas</c> and multi-host URLs are configuration errors.
    /// </summary>
    public virtual bool SupportsReplication => false;

    /// <summary>
    /// Single-host settings, one per host: the database's own <paramref name="database"/> settings with the host replaced.
    /// With <paramref name="replica"/> null, one entry per host of <paramref name="database"/> itself (a multi-host URL);
    /// otherwise one per host the replica entry names, taking the user, password, database and options it gives and
    /// inheriting the rest. Problems go to <paramref name="problems"/> without secrets.
    /// </summary>
    public virtual IReadOnlyList<ConnectionSettings> CreateHostSettings(ConnectionSettings database, ReplicaEntry? replica, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        problems.Add($"the {Name} dialect does not support replicas");
        return [];
    }

    /// <summary>
    /// One monitoring round trip on a host: its role as the server itself reports it, and how far it has written
    /// (a primary) or replayed (a replica) the replication log.
    /// </summary>
    public virtual ValueTask<ReplicationProbe> ProbeReplicationAsync(DbConnection connection, bool async, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"the {Name} dialect does not support replicas");

    /// <summary>
    /// Runs on the primary right after a commit, on the same connection: a position that a replica must have replayed
    /// to show that commit. Only called for sessions inside a read-your-writes context.
    /// </summary>
    public virtual ValueTask<ReplicationPosition> ReadCommitPositionAsync(DbConnection connection, bool async, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"the {Name} dialect does not support replicas");

    /// <summary>Waits on a replica until it has replayed <paramref name="position"/>, at most <paramref name="timeout"/>; false when it has not.</summary>
    public virtual ValueTask<bool> WaitForPositionAsync(DbConnection connection, ReplicationPosition position, TimeSpan timeout, bool async,
        CancellationToken cancellationToken) =>
        throw new NotSupportedException($"the {Name} dialect does not support replicas");

    /// <summary>Reads a position written by <see cref="ReplicationPosition.ToString"/> (from a <c>ConsistencyToken</c>).</summary>
    public virtual bool TryParsePosition(string text, [NotNullWhen(true)] out ReplicationPosition? position)
    {
        position = null;
        return false;
    }

    /// <summary>Closes the idle connections of a data source's pool; connections in use are discarded when returned.</summary>
    public virtual void ClearPool(DbDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        using var connection = dataSource.CreateConnection();
        ClearPool(connection);
    }
}

/// <summary>One entry of a database's <c>Replicas</c> list: a URL (environment references expanded) or a connection string.</summary>
/// <param name="Url">The parsed URL; its user, password, database and query, when given, override the database's.</param>
/// <param name="ConnectionString">A connection string in the dialect's keywords; the keys it gives override the database's.</param>
public sealed record ReplicaEntry(DatabaseUrl? Url, string? ConnectionString);

/// <summary>What one monitoring round trip learned about a host.</summary>
/// <param name="IsPrimary">Whether the server accepts writes (PostgreSQL: not in recovery; MariaDB: not read-only and not replicating).</param>
/// <param name="Position">How far the primary has written, or the replica has replayed; null when the server does not say.</param>
/// <param name="Note">A short remark for operators, such as "replay paused" (null when there is nothing to say).</param>
public sealed record ReplicationProbe(bool IsPrimary, ReplicationPosition? Position, string? Note = null)
{
    /// <summary>
    /// For a primary: a number that grows with every promotion (PostgreSQL's timeline), or null where the dialect has
    /// none. When several hosts report themselves primary (a split brain), the one with the highest is the current one.
    /// </summary>
    public long? Term { get; init; }
}

/// <summary>
/// A point in a database's replication log: a PostgreSQL LSN, a MariaDB GTID position. Dialects subclass it; routing only
/// asks whether a replica's position <see cref="Covers"/> one a session needs. <see cref="ToString"/> is the text form that
/// <see cref="Dialect.TryParsePosition"/> reads back.
/// </summary>
public abstract class ReplicationPosition
{
    /// <summary>A position no server covers: the session must read on the primary (for example when the commit position could not be read).</summary>
    public static ReplicationPosition Unknown { get; } = new UnknownPosition();

    /// <summary>Whether a server at this position has applied everything up to <paramref name="other"/>. Allocation-free.</summary>
    public abstract bool Covers(ReplicationPosition other);

    /// <summary>The least position that covers both (the later of two LSNs; per-domain maxima of two GTID positions).</summary>
    public virtual ReplicationPosition Merge(ReplicationPosition other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other is UnknownPosition)
        {
            return other;
        }

        return Covers(other) ? this : other;
    }

    public abstract override string ToString();

    private sealed class UnknownPosition : ReplicationPosition
    {
        public override bool Covers(ReplicationPosition other) => false;

        public override ReplicationPosition Merge(ReplicationPosition other) => this;

        public override string ToString() => "?";
    }
}
