namespace Switchboard.Reflection;

/// <summary>
/// Puts what a dialect returned into the stable form every dialect shares: names sorted (ordinal), columns left in
/// ordinal order, constraint-backing indexes dropped unless asked for, and the table filter applied.
/// </summary>
internal static class SchemaNormalizer
{
    public static DatabaseSchema Normalize(DatabaseSchema schema, ReflectionOptions options)
    {
        var tables = options.Tables is null ? null : new HashSet<string>(options.Tables, StringComparer.Ordinal);
        var schemas = schema.Schemas
            .Where(s => options.Schema is null || s.Name == options.Schema)
            .OrderBy(s => s.Name, StringComparer.Ordinal)
            .Select(s => Normalize(s, options, tables));

        // Asked for some tables in any schema: the schemas that hold none of them are noise.
        if (tables is { Count: > 0 } && options.Schema is null)
        {
            schemas = schemas.Where(s => s.Tables.Count > 0 || s.Views.Count > 0);
        }

        return schema with { Schemas = [.. schemas] };
    }

    private static SchemaInfo Normalize(SchemaInfo schema, ReflectionOptions options, HashSet<string>? tables) => schema with
    {
        Tables = [.. schema.Tables
            .Where(t => tables is null || tables.Contains(t.Name))
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => Normalize(t, options))],
        Views = options.IncludeViews
            ? [.. schema.Views.Where(v => tables is null || tables.Contains(v.Name)).OrderBy(v => v.Name, StringComparer.Ordinal)]
            : [],
        Enums = [.. schema.Enums.OrderBy(e => e.Name, StringComparer.Ordinal)],
        Domains = [.. schema.Domains.OrderBy(d => d.Name, StringComparer.Ordinal)
            .Select(d => d with { CheckConstraints = SortChecks(d.CheckConstraints) })],
    };

    private static TableInfo Normalize(TableInfo table, ReflectionOptions options) => table with
    {
        ForeignKeys = [.. table.ForeignKeys
            .OrderBy(f => f.Name ?? "", StringComparer.Ordinal)
            .ThenBy(f => string.Join('\0', f.Columns), StringComparer.Ordinal)
            .ThenBy(f => f.ReferencedTable, StringComparer.Ordinal)],
        UniqueConstraints = [.. table.UniqueConstraints
            .OrderBy(u => u.Name ?? "", StringComparer.Ordinal)
            .ThenBy(u => string.Join('\0', u.Columns), StringComparer.Ordinal)],
        CheckConstraints = SortChecks(table.CheckConstraints),
        Indexes = [.. table.Indexes
            .Where(i => options.IncludeConstraintIndexes || !i.BacksConstraint)
            .OrderBy(i => i.Name, StringComparer.Ordinal)],
    };

    private static CheckConstraintInfo[] SortChecks(IEnumerable<CheckConstraintInfo> checks) =>
        [.. checks.OrderBy(c => c.Name ?? "", StringComparer.Ordinal).ThenBy(c => c.Expression, StringComparer.Ordinal)];
}
