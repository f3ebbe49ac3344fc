namespace Switchboard.Reflection;

/// <summary>What to reflect. Immutable; <see cref="Default"/> reflects everything except indexes that only back a key.</summary>
public sealed record ReflectionOptions
{
    public static ReflectionOptions Default { get; } = new();

    /// <summary>
    /// One schema to reflect, or null for the database's own schemas: every non-system schema on PostgreSQL, the
    /// connection's database on MySQL/MariaDB, <c>main</c> and attached databases on SQLite. Unknown names throw
    /// <see cref="SchemaObjectNotFoundException"/>.
    /// </summary>
    public string? Schema { get; init; }

    /// <summary>
    /// Only these tables or views (exact names), or null for all. A name that matches nothing throws
    /// <see cref="SchemaObjectNotFoundException"/>.
    /// </summary>
    public IReadOnlyList<string>? Tables { get; init; }

    /// <summary>Whether to reflect views and materialized views (default true).</summary>
    public bool IncludeViews { get; init; } = true;

    /// <summary>
    /// Whether to list indexes that exist only to back a primary key or unique constraint (default false: the key or
    /// constraint already describes them, and listing them again makes every comparison noisier). Indexes created on
    /// their own, including unique indexes and MySQL's automatic foreign-key indexes, are always listed.
    /// </summary>
    public bool IncludeConstraintIndexes { get; init; }

    internal void Validate()
    {
        if (Schema is { Length: 0 })
        {
            throw new ArgumentException("the schema name is empty", nameof(Schema));
        }

        if (Tables is not null && Tables.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("a table name is null or empty", nameof(Tables));
        }
    }

    /// <summary>A key for caching results of equal options (records compare lists by reference).</summary>
    internal string CacheKey => string.Join('\0', Schema ?? "\u0001", IncludeViews, IncludeConstraintIndexes,
        Tables is null ? "\u0001" : string.Join('\u0002', Tables.Order(StringComparer.Ordinal)));
}
