using System.Data.Common;
using Switchboard.Dialects;
using Switchboard.Internal;

namespace Switchboard.Routing;

/// <summary>
/// What a session on a replicated database needs for routing, captured when the session is opened (so a scope around
/// <c>OpenSession</c> applies even if the session is used after the scope ends): its intent, a role override, its
/// read-your-writes context, and the host its current connection came from.
/// </summary>
internal sealed class SessionRoute
{
    private SessionRoute(SessionIntent intent, bool forcePrimary, ReadYourWritesContext? consistency)
    {
        Intent = intent;
        ForcePrimary = forcePrimary;
        Consistency = consistency;
    }

    public SessionIntent Intent { get; }

    /// <summary>A <see cref="RoutingScope.UseRole"/> Primary scope sends even read-only sessions to the primary.</summary>
    public bool ForcePrimary { get; }

    public ReadYourWritesContext? Consistency { get; }

    public bool WantsPrimary => Intent == SessionIntent.ReadWrite || ForcePrimary;

    /// <summary>The host the session's current connection came from (set by the engine at checkout).</summary>
    public HostEndpoint? Host { get; set; }

    /// <summary>Null for a database with a single host: nothing to route.</summary>
    public static SessionRoute? Create(DatabaseEngine engine, SessionOptions options) =>
        engine.Replicas is null
            ? null
            : new SessionRoute(options.Intent, RoutingScope.Current?.Role == HostRole.Primary, options.ReadYourWrites ?? ReadYourWritesContext.Current);

    public ReplicationPosition? RequiredPosition(string database, Dialect dialect) =>
        Intent == SessionIntent.ReadOnly ? Consistency?.PositionFor(database, dialect) : null;

    /// <summary>
    /// After a read-write commit inside a read-your-writes context: records the commit's position, on the same connection.
    /// If that fails the context records an unknown position, so its reads of this database go to the primary.
    /// </summary>
    /// <remarks>Not cancellable: the commit has happened, and a cancellation must not make it look as if it had not.</remarks>
    public async ValueTask RecordCommitAsync(DatabaseEngine engine, DbConnection connection, IOBehavior io)
    {
        if (Consistency is null || Intent != SessionIntent.ReadWrite)
        {
            return;
        }

        ReplicationPosition position;
        try
        {
            position = await engine.Dialect.ReadCommitPositionAsync(connection, io == IOBehavior.Asynchronous, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException or IOException)
        {
            position = ReplicationPosition.Unknown;
        }

        Consistency.Record(engine.Name, position);
    }

    /// <summary>A statement failed: a lost connection or a write refused as read-only makes the monitor check at once.</summary>
    public void OnFailure(DatabaseEngine engine, DatabaseErrorKind kind)
    {
        if (kind is DatabaseErrorKind.ConnectionLost || (kind is DatabaseErrorKind.ReadOnlyTransaction && Intent == SessionIntent.ReadWrite))
        {
            engine.Replicas?.ReportFailure(Host, kind);
        }
    }
}
