using Switchboard.Internal;

namespace Switchboard.Reflection;

/// <summary>
/// Answers questions about one database's schema and remembers the answers (SQLAlchemy's <c>Inspector</c>): the first
/// question reflects, later ones are served from the cache until <see cref="ClearCache"/>. A whole-database reflection
/// also answers later questions about single tables. Thread-safe; create one per unit of work that expects the schema
/// not to change underneath it.
/// </summary>
public sealed class SchemaInspector
{
    private readonly Dictionary<string, DatabaseSchema> _cache = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public SchemaInspector(DatabaseEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        Engine = engine;
    }

    public DatabaseEngine Engine { get; }

    /// <summary>Reflects the database with these options (default: everything), or returns the cached result.</summary>
    public DatabaseSchema GetSchema(ReflectionOptions? options = null) =>
        GetSchemaAsync(options ?? ReflectionOptions.Default, IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="GetSchema"/>
    public ValueTask<DatabaseSchema> GetSchemaAsync(ReflectionOptions? options = null, CancellationToken cancellationToken = default) =>
        GetSchemaAsync(options ?? ReflectionOptions.Default, IOBehavior.Asynchronous, cancellationToken);

    /// <summary>The names of the database's schemas, sorted.</summary>
    public IReadOnlyList<string> GetSchemaNames() =>
        GetSchemaNamesAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="GetSchemaNames"/>
    public ValueTask<IReadOnlyList<string>> GetSchemaNamesAsync(CancellationToken cancellationToken = default) =>
        GetSchemaNamesAsync(IOBehavior.Asynchronous, cancellationToken);

    /// <summary>The table names of a schema (default: the default schema), sorted.</summary>
    public IReadOnlyList<string> GetTableNames(string? schema = null) =>
        GetTableNamesAsync(schema, IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="GetTableNames"/>
    public ValueTask<IReadOnlyList<string>> GetTableNamesAsync(string? schema = null, CancellationToken cancellationToken = default) =>
        GetTableNamesAsync(schema, IOBehavior.Asynchronous, cancellationToken);

    /// <summary>
    /// One table, from <paramref name="schema"/> when given, else from the default schema, else from the first schema
    /// (by name) that has it. Throws <see cref="SchemaObjectNotFoundException"/> when there is none.
    /// </summary>
    public TableInfo GetTable(string table, string? schema = null) =>
        GetTableAsync(table, schema, IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="GetTable"/>
    public ValueTask<TableInfo> GetTableAsync(string table, string? schema = null, CancellationToken cancellationToken = default) =>
        GetTableAsync(table, schema, IOBehavior.Asynchronous, cancellationToken);

    /// <summary>Forgets everything reflected so far.</summary>
    public void ClearCache()
    {
        lock (_lock)
        {
            _cache.Clear();
        }
    }

    private async ValueTask<DatabaseSchema> GetSchemaAsync(ReflectionOptions options, IOBehavior io, CancellationToken cancellationToken)
    {
        var key = options.CacheKey;
        lock (_lock)
        {
            if (_cache.TryGetValue(key, out var cached))
            {
                return cached;
            }
        }

        // Two concurrent first questions may both reflect; the results are equal, so the second simply wins.
        var schema = await Engine.ReflectAsync(options, io, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            _cache[key] = schema;
        }

        return schema;
    }

    private async ValueTask<IReadOnlyList<string>> GetSchemaNamesAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        var schema = TryCachedWhole(null) ?? await GetSchemaAsync(new ReflectionOptions { Tables = [], IncludeViews = false }, io, cancellationToken).ConfigureAwait(false);
        return [.. schema.Schemas.Select(s => s.Name)];
    }

    private async ValueTask<IReadOnlyList<string>> GetTableNamesAsync(string? schema, IOBehavior io, CancellationToken cancellationToken)
    {
        var whole = TryCachedWhole(schema) ?? await GetSchemaAsync(new ReflectionOptions { Schema = schema }, io, cancellationToken).ConfigureAwait(false);
        var resolved = schema is null ? DefaultOrOnly(whole) : whole.FindSchema(schema);
        return resolved is null ? [] : [.. resolved.Tables.Select(t => t.Name)];
    }

    private async ValueTask<TableInfo> GetTableAsync(string table, string? schema, IOBehavior io, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(table);
        if (TryCachedWhole(schema) is { } whole)
        {
            var cached = schema is null
                ? DefaultOrOnly(whole)?.FindTable(table) ?? whole.AllTables.FirstOrDefault(t => t.Name == table)
                : whole.FindTable(table, schema);
            return cached
                ?? throw new SchemaObjectNotFoundException(Engine.Name, Engine.Definition.Target, "table", [table], [.. whole.AllTables.Select(t => t.Name)]);
        }

        var reflected = await GetSchemaAsync(new ReflectionOptions { Schema = schema, Tables = [table], IncludeViews = false }, io, cancellationToken).ConfigureAwait(false);
        var found = schema is null
            ? DefaultOrOnly(reflected)?.FindTable(table) ?? reflected.AllTables.FirstOrDefault(t => t.Name == table)
            : reflected.FindTable(table, schema);
        return found ?? throw new SchemaObjectNotFoundException(Engine.Name, Engine.Definition.Target, "table", [table], []);
    }

    /// <summary>A cached unfiltered reflection that covers <paramref name="schema"/> (null: the default schema).</summary>
    private DatabaseSchema? TryCachedWhole(string? schema)
    {
        lock (_lock)
        {
            foreach (var key in (string?[])[schema, null])
            {
                // An unfiltered reflection covers the schema only if it holds it (MySQL's covers just the current database).
                if (_cache.TryGetValue(new ReflectionOptions { Schema = key }.CacheKey, out var whole) && (schema is null || whole.FindSchema(schema) is not null))
                {
                    return whole;
                }
            }
        }

        return null;
    }

    private static SchemaInfo? DefaultOrOnly(DatabaseSchema schema) =>
        (schema.DefaultSchema is { } d ? schema.FindSchema(d) : null) ?? (schema.Schemas.Count == 1 ? schema.Schemas[0] : null);
}
