using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace Switchboard;

/// <summary>
/// One link of the router chain (Django's database routers): given an entity type or a hint, names the database to read
/// or write it in, or says nothing (null) so the next router decides. Register with
/// <see cref="SwitchboardCatalogBuilder.AddRouter"/>; routers are asked in the order they were added. Every member has a
/// default of "no opinion", so a router implements only what it cares about. Must be thread-safe.
/// </summary>
public interface IDatabaseRouter
{
    /// <summary>The database to read <paramref name="request"/> from, or null for no opinion.</summary>
    string? DatabaseForRead(RoutingRequest request) => null;

    /// <summary>The database to write <paramref name="request"/> to, or null for no opinion.</summary>
    string? DatabaseForWrite(RoutingRequest request) => null;

    /// <summary>Whether the two may be related (a foreign key, a join), or null for no opinion.</summary>
    bool? AllowRelation(RoutingRequest first, RoutingRequest second) => null;
}

/// <summary>What the router chain is asked about: an entity type, a free-form hint, or both, and optionally the instance.</summary>
/// <param name="EntityType">The entity (model) type, if any.</param>
/// <param name="Hint">A free-form hint (a table, a tenant, a feature), if any.</param>
/// <param name="Instance">The entity instance, if the caller has one.</param>
public readonly record struct RoutingRequest(Type? EntityType, string? Hint = null, object? Instance = null)
{
    /// <summary>A request about <typeparamref name="TEntity"/>.</summary>
    public static RoutingRequest For<TEntity>(string? hint = null) => new(typeof(TEntity), hint);

    public override string ToString() =>
        EntityType is null ? $"hint '{Hint}'" : Hint is null ? EntityType.Name : $"{EntityType.Name} (hint '{Hint}')";
}

/// <summary>
/// The chain in order: a <see cref="RoutingScope.UseDatabase"/> scope, the routers as added, entity types bound to a
/// database (SQLAlchemy's binds: the type itself, then its base types, then its interfaces), the default database, and
/// finally the only database when there is just one.
/// </summary>
internal sealed class RouterChain(IReadOnlyList<IDatabaseRouter> routers, FrozenDictionary<Type, string> binds, string? defaultDatabase)
{
    private readonly ConcurrentDictionary<Type, string?> _bound = new();

    public static RouterChain Empty { get; } = new([], FrozenDictionary<Type, string>.Empty, null);

    public int Count => routers.Count;

    /// <summary>The database's name as the chain answers it (not yet checked against the catalog), or null.</summary>
    public string? Resolve(RoutingRequest request, bool forWrite, IReadOnlyList<string> configured)
    {
        if (RoutingScope.Current?.Database is { } scoped)
        {
            return scoped;
        }

        foreach (var router in routers)
        {
            var answer = forWrite ? router.DatabaseForWrite(request) : router.DatabaseForRead(request);
            if (answer is not null)
            {
                return answer;
            }
        }

        if (request.EntityType is { } type && _bound.GetOrAdd(type, FindBind) is { } bound)
        {
            return bound;
        }

        return defaultDatabase ?? (configured.Count == 1 ? configured[0] : null);
    }

    /// <summary>The first router's opinion on a relation, or null when none has one.</summary>
    public bool? AllowRelation(RoutingRequest first, RoutingRequest second)
    {
        foreach (var router in routers)
        {
            if (router.AllowRelation(first, second) is { } answer)
            {
                return answer;
            }
        }

        return null;
    }

    private string? FindBind(Type type)
    {
        for (var t = type; t is not null; t = t.BaseType)
        {
            if (binds.TryGetValue(t, out var database) || (t.IsGenericType && binds.TryGetValue(t.GetGenericTypeDefinition(), out database)))
            {
                return database;
            }
        }

        foreach (var contract in type.GetInterfaces())
        {
            if (binds.TryGetValue(contract, out var database))
            {
                return database;
            }
        }

        return null;
    }
}
