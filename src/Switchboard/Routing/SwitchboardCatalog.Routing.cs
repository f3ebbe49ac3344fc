using Polly;
using Polly.Retry;
using Switchboard.Routing;

namespace Switchboard;

/// <summary>The router chain, and read-only work that may be retried.</summary>
public sealed partial class SwitchboardCatalog
{
    // Read-only work is retried on a fresh session, so a lost replica or a failover costs the caller nothing. Statement
    // timeouts and pool exhaustion are not retried: doing the same again would only wait twice as long.
    private static readonly ResiliencePipeline ReadRetry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = 2,
            Delay = TimeSpan.FromMilliseconds(50),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            ShouldHandle = new PredicateBuilder().Handle<SwitchboardException>(e =>
                e.IsTransient && e is not PoolTimeoutException && e is not DatabaseCommandException { Kind: DatabaseErrorKind.Timeout }),
        })
        .Build();

    internal RouterChain Routers { get; init; } = RouterChain.Empty;

    /// <summary>
    /// The database the router chain names for <paramref name="request"/>: a <see cref="RoutingScope.UseDatabase"/> scope,
    /// then the routers in order, then binds, then the default database. <paramref name="intent"/> picks the routers'
    /// read or write answer; null takes the current <see cref="RoutingScope"/>'s (read-write outside one).
    /// Throws <see cref="NoRouteException"/> when nothing answers and <see cref="UnknownDatabaseException"/> for an unknown name.
    /// </summary>
    public string DatabaseFor(RoutingRequest request, SessionIntent? intent = null)
    {
        var forWrite = (intent ?? RoutingScope.DefaultSessionOptions.Intent) == SessionIntent.ReadWrite;
        var name = Routers.Resolve(request, forWrite, Names)
            ?? throw new NoRouteException((forWrite ? "writing " : "reading ") + request, Routers.Count, Names);
        return GetDefinition(name).Name;
    }

    /// <summary>The database the router chain names for entity type <typeparamref name="TEntity"/>.</summary>
    public string DatabaseFor<TEntity>(SessionIntent? intent = null) => DatabaseFor(RoutingRequest.For<TEntity>(), intent);

    /// <summary>Opens a session on the database the router chain names for <paramref name="request"/>.</summary>
    public DatabaseSession OpenSessionFor(RoutingRequest request, SessionIntent? intent = null)
    {
        var name = DatabaseFor(request, intent);
        return intent is { } explicitIntent ? OpenSession(name, explicitIntent) : OpenSession(name);
    }

    /// <summary>Opens a session on the database the router chain names for entity type <typeparamref name="TEntity"/>.</summary>
    public DatabaseSession OpenSessionFor<TEntity>(SessionIntent? intent = null) => OpenSessionFor(RoutingRequest.For<TEntity>(), intent);

    /// <summary>
    /// Whether the two may be related: the first router with an opinion decides; without one, they may when the chain
    /// writes both to the same database.
    /// </summary>
    public bool AllowsRelation(RoutingRequest first, RoutingRequest second) =>
        Routers.AllowRelation(first, second)
        ?? string.Equals(DatabaseFor(first, SessionIntent.ReadWrite), DatabaseFor(second, SessionIntent.ReadWrite), StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether entity types <typeparamref name="TFirst"/> and <typeparamref name="TSecond"/> may be related.</summary>
    public bool AllowsRelation<TFirst, TSecond>() => AllowsRelation(RoutingRequest.For<TFirst>(), RoutingRequest.For<TSecond>());

    /// <summary>
    /// Runs read-only work in a fresh read-only session and returns its result; when it fails with a transient error (a
    /// lost connection, a replica gone, no host for a moment) it runs again, up to twice, in a new session that may go
    /// to another host. Only for work that changes nothing: it runs in read-only transactions, so a write fails.
    /// </summary>
    public Task<T> ReadAsync<T>(string database, Func<DatabaseSession, CancellationToken, Task<T>> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        GetDefinition(database);
        return ReadRetry.ExecuteAsync(static async (s, ct) =>
        {
            var session = s.Catalog.OpenSession(s.Database, SessionIntent.ReadOnly);
            await using (session.ConfigureAwait(false))
            {
                var result = await s.Work(session, ct).ConfigureAwait(false);
                await session.CommitAsync(ct).ConfigureAwait(false);
                return result;
            }
        }, (Catalog: this, Database: database, Work: work), cancellationToken).AsTask();
    }

    /// <summary>The synchronous form of <see cref="ReadAsync{T}"/>.</summary>
    public T Read<T>(string database, Func<DatabaseSession, T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        GetDefinition(database);
        return ReadRetry.Execute(static s =>
        {
            using var session = s.Catalog.OpenSession(s.Database, SessionIntent.ReadOnly);
            var result = s.Work(session);
            session.Commit();
            return result;
        }, (Catalog: this, Database: database, Work: work));
    }
}
