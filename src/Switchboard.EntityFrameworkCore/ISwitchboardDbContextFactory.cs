using Microsoft.EntityFrameworkCore;

namespace Switchboard.EntityFrameworkCore;

/// <summary>
/// Creates pooled contexts bound to a named database, for a given intent. <see cref="IDbContextFactory{TContext}.CreateDbContext"/>
/// creates read-write contexts, on the primary. Read-only contexts do not track entities and refuse <c>SaveChanges</c>;
/// on a replicated database their connections go to a replica the database's read policy picks when the context's
/// connection is created (so one context stays on one host), or to the primary when none qualifies and
/// <c>Routing:FallbackToPrimary</c> allows.
/// </summary>
public interface ISwitchboardDbContextFactory<TContext> : IDbContextFactory<TContext>
    where TContext : DbContext
{
    /// <summary>The configured database the contexts work on.</summary>
    string Database { get; }

    /// <summary>Creates (or takes from the pool) a context for <paramref name="intent"/>. Dispose it to return it.</summary>
    TContext CreateDbContext(SessionIntent intent);
}
