using System.Collections.Frozen;
using Switchboard.Routing;

namespace Switchboard;

/// <summary>The router chain: routers, entity-type binds and the default database.</summary>
public sealed partial class SwitchboardCatalogBuilder
{
    private readonly List<IDatabaseRouter> _routers = [];
    private readonly Dictionary<Type, string> _binds = [];
    private string? _defaultDatabase;

    /// <summary>Adds a router at the end of the chain; routers are asked in the order added, and the first answer wins.</summary>
    public SwitchboardCatalogBuilder AddRouter(IDatabaseRouter router)
    {
        ArgumentNullException.ThrowIfNull(router);
        ThrowIfBuilt();
        _routers.Add(router);
        return this;
    }

    /// <summary>
    /// Binds an entity type (and the types deriving from or implementing it) to a database, after the routers in the
    /// chain: SQLAlchemy's <c>binds</c>. An open generic type binds every closed form.
    /// </summary>
    public SwitchboardCatalogBuilder Bind(Type entityType, string database)
    {
        ArgumentNullException.ThrowIfNull(entityType);
        ArgumentException.ThrowIfNullOrWhiteSpace(database);
        ThrowIfBuilt();
        _binds[entityType] = database;
        return this;
    }

    /// <inheritdoc cref="Bind(Type, string)"/>
    public SwitchboardCatalogBuilder Bind<TEntity>(string database) => Bind(typeof(TEntity), database);

    /// <summary>The database the router chain answers when nothing else does.</summary>
    public SwitchboardCatalogBuilder UseDefaultDatabase(string database)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(database);
        ThrowIfBuilt();
        _defaultDatabase = database;
        return this;
    }

    private void ValidateRouters(List<DatabaseDefinition> definitions, List<ConfigurationProblem> problems)
    {
        var names = definitions.Select(d => d.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var configured = _databases.Select(d => d.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var (type, database) in _binds)
        {
            // A database that failed validation already has its own problems listed.
            if (!names.Contains(database) && !configured.Contains(database))
            {
                problems.Add(new(database, "(bind)", $"{type.Name} is bound to '{database}', which is not configured"));
            }
        }

        if (_defaultDatabase is { } fallback && !configured.Contains(fallback))
        {
            problems.Add(new(fallback, "(default database)", $"the default database '{fallback}' is not configured"));
        }
    }

    private RouterChain BuildRouterChain() =>
        _routers.Count == 0 && _binds.Count == 0 && _defaultDatabase is null
            ? RouterChain.Empty
            : new RouterChain([.. _routers], _binds.ToFrozenDictionary(), _defaultDatabase);
}
