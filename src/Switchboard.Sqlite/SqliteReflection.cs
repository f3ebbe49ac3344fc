using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Switchboard.Reflection;

namespace Switchboard.Sqlite;

public sealed partial class SqliteDialect
{
    public override bool SupportsReflection => true;

    /// <summary>Reflects through pragma table functions joined over sqlite_schema: one query for the schema list, four per schema.</summary>
    public override ValueTask<DatabaseSchema> ReflectAsync(ReflectionContext context) => SqliteReflection.ReflectAsync(context);
}

/// <summary>
/// SQLite reflection. The pragmas are used as table-valued functions joined over sqlite_schema, so each object kind
/// (objects, columns, foreign keys, indexes) is one query for all tables; table names go in as a JSON parameter. What
/// the pragmas do not give (CHECK, constraint names, generated expressions, index expressions) comes from the stored DDL.
/// </summary>
internal static partial class SqliteReflection
{
    private const string SchemasSql = "SELECT name FROM pragma_database_list WHERE name <> 'temp' ";

    private const string UserObjects = @"m.name NOT LIKE 'sqlite\_%' ESCAPE '\'";

    private const string ObjectsSql = """
        SELECT m.type AS type, m.name AS name, m.tbl_name AS table_name, m.sql AS sql
        FROM {0}.sqlite_master m
        WHERE m.type IN ('table', 'view', 'index') AND {1} {2}
        """;

    private const string ColumnsSql = """
        SELECT m.name AS table_name, p.cid AS cid, p.name AS name, p.type AS type, p."notnull" AS not_null,
               p.dflt_value AS default_expr, p.pk AS pk, p.hidden AS hidden
        FROM {0}.sqlite_master m JOIN pragma_table_xinfo(m.name, @schema) p
        WHERE m.type IN ({3}) AND {1} {2}
        ORDER BY m.name, p.cid
        """;

    private const string ForeignKeysSql = """
        SELECT m.name AS table_name, f.id AS id, f.seq AS seq, f."table" AS ref_table, f."from" AS column_name, f."to" AS ref_column,
               f.on_update AS on_update, f.on_delete AS on_delete,
               (SELECT r.name FROM pragma_table_info(f."table", @schema) r WHERE r.pk = f.seq + 1) AS ref_pk_column,
               (SELECT t.name FROM {0}.sqlite_master t WHERE t.type = 'table' AND t.name = f."table" COLLATE NOCASE) AS ref_table_name
        FROM {0}.sqlite_master m JOIN pragma_foreign_key_list(m.name, @schema) f
        WHERE m.type = 'table' AND {1} {2}
        ORDER BY m.name, f.id, f.seq
        """;

    private const string IndexesSql = """
        SELECT m.name AS table_name, il.name AS index_name, il."unique" AS is_unique, il.origin AS origin,
               ix.seqno AS seqno, ix.cid AS cid, ix.name AS column_name, ix."desc" AS descending
        FROM {0}.sqlite_master m JOIN pragma_index_list(m.name, @schema) il JOIN pragma_index_xinfo(il.name, @schema) ix
        WHERE m.type = 'table' AND ix."key" = 1 AND {1} {2}
        ORDER BY m.name, il.name, ix.seqno
        """;

    private const string ViewColumnsSql = """
        SELECT @view AS table_name, p.cid AS cid, p.name AS name, p.type AS type, p."notnull" AS not_null,
               p.dflt_value AS default_expr, p.pk AS pk, p.hidden AS hidden
        FROM pragma_table_xinfo(@view, @schema) p
        ORDER BY p.cid
        """;

    public static async ValueTask<DatabaseSchema> ReflectAsync(ReflectionContext context)
    {
        var options = context.Options;
        var schemaParameters = new Dictionary<string, object?>();
        var schemaFilter = "";
        if (options.Schema is { } wanted)
        {
            schemaFilter = "AND name = @schema";
            schemaParameters["schema"] = wanted;
        }

        var names = (await context.QueryAsync(SchemasSql + schemaFilter + " ORDER BY seq", schemaParameters).ConfigureAwait(false))
            .Select(r => r.GetString("name")).ToList();
        var schemas = new List<SchemaInfo>();
        foreach (var name in names)
        {
            schemas.Add(options.Tables is { Count: 0 } ? new SchemaInfo { Name = name } : await ReflectSchemaAsync(context, name).ConfigureAwait(false));
        }

        return new DatabaseSchema
        {
            Database = context.DatabaseName,
            Dialect = "sqlite",
            DefaultSchema = "main",
            Schemas = schemas,
        };
    }

    private static async ValueTask<SchemaInfo> ReflectSchemaAsync(ReflectionContext context, string schema)
    {
        var options = context.Options;
        var parameters = new Dictionary<string, object?> { ["schema"] = schema };
        var filter = "";
        if (options.Tables is { } wanted)
        {
            filter = "AND m.tbl_name IN (SELECT value FROM json_each(@tables))";
            parameters["tables"] = JsonSerializer.Serialize(wanted.ToArray(), SqliteJsonContext.Default.StringArray);
        }

        // The schema name is quoted as an identifier (it cannot be a parameter in FROM); everything else is a parameter.
        var from = "\"" + schema.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        var kinds = options.IncludeViews ? "'table', 'view'" : "'table'";
        string Sql(string template, string? relationKinds = null) => string.Format(CultureInfo.InvariantCulture, template, from, UserObjects, filter, relationKinds ?? kinds);

        var tables = new Dictionary<string, TableBuilder>(StringComparer.Ordinal);
        var indexSql = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in await context.QueryAsync(Sql(ObjectsSql), parameters).ConfigureAwait(false))
        {
            var type = row.GetString("type");
            var name = row.GetString("name");
            var sql = row.GetStringOrNull("sql");
            if (type == "index")
            {
                if (sql is not null)
                {
                    indexSql[name] = sql;
                }
            }
            else if (type == "table" || options.IncludeViews)
            {
                tables[name] = new TableBuilder(name, type == "view", sql);
            }
        }

        foreach (var row in await ReadColumnsAsync(context, Sql(ColumnsSql), Sql(ColumnsSql, "'table'"), parameters, tables).ConfigureAwait(false))
        {
            if (tables.TryGetValue(row.GetString("table_name"), out var table) && row.GetInt32("hidden") != 1)
            {
                table.ColumnRows.Add(row);
            }
        }

        foreach (var group in (await context.QueryAsync(Sql(ForeignKeysSql), parameters).ConfigureAwait(false))
                     .GroupBy(r => (Table: r.GetString("table_name"), Id: r.GetInt64("id"))))
        {
            if (!tables.TryGetValue(group.Key.Table, out var table))
            {
                continue;
            }

            var parts = group.OrderBy(r => r.GetInt64("seq")).ToList();
            var columns = parts.Select(r => r.GetString("column_name")).ToList();
            var referenced = parts[0].GetStringOrNull("ref_table_name") ?? parts[0].GetString("ref_table");
            var parsed = table.TakeParsedForeignKey(columns, referenced);
            table.ForeignKeys.Add(new ForeignKeyInfo
            {
                Name = parsed?.Name,
                Columns = columns,
                ReferencedSchema = schema,
                ReferencedTable = referenced,

                // A foreign key without a column list refers to the primary key of the referenced table.
                ReferencedColumns = [.. parts.Select(r => r.GetStringOrNull("ref_column") ?? r.GetStringOrNull("ref_pk_column") ?? "")],
                OnDelete = parts[0].GetStringOrNull("on_delete") ?? "NO ACTION",
                OnUpdate = parts[0].GetStringOrNull("on_update") ?? "NO ACTION",
                Deferrable = parsed?.Deferrable ?? false,
                InitiallyDeferred = parsed?.InitiallyDeferred ?? false,
            });
        }

        foreach (var group in (await context.QueryAsync(Sql(IndexesSql), parameters).ConfigureAwait(false))
                     .GroupBy(r => (Table: r.GetString("table_name"), Name: r.GetString("index_name"))))
        {
            if (tables.TryGetValue(group.Key.Table, out var table))
            {
                table.AddIndex(group.Key.Name, [.. group.OrderBy(r => r.GetInt64("seqno"))], indexSql.GetValueOrDefault(group.Key.Name));
            }
        }

        return new SchemaInfo
        {
            Name = schema,
            Tables = [.. tables.Values.Where(t => !t.IsView).Select(t => t.BuildTable())],
            Views = [.. tables.Values.Where(t => t.IsView).Select(t => t.BuildView())],
        };
    }

    /// <summary>
    /// Columns of every table and view in one query. A view that no longer compiles (its table was dropped) fails that
    /// query; then tables are read in one query and views one by one, and a broken view is kept without columns.
    /// </summary>
    private static async ValueTask<IReadOnlyList<ReflectionRow>> ReadColumnsAsync(ReflectionContext context, string allSql, string tablesSql,
        Dictionary<string, object?> parameters, Dictionary<string, TableBuilder> tables)
    {
        try
        {
            return await context.QueryAsync(allSql, parameters).ConfigureAwait(false);
        }
        catch (SqliteException) when (tables.Values.Any(t => t.IsView))
        {
            var rows = new List<ReflectionRow>(await context.QueryAsync(tablesSql, parameters).ConfigureAwait(false));
            foreach (var view in tables.Where(t => t.Value.IsView))
            {
                try
                {
                    rows.AddRange(await context.QueryAsync(ViewColumnsSql, new Dictionary<string, object?>(parameters) { ["view"] = view.Key }).ConfigureAwait(false));
                }
                catch (SqliteException)
                {
                    // Left without columns; its definition still says what it was meant to be.
                }
            }

            return rows;
        }
    }

    /// <summary>
    /// The family of a declared SQLite type. Specific names first (BOOLEAN, DATETIME, UUID, JSON), then SQLite's own
    /// affinity rules (INT, CHAR/CLOB/TEXT, BLOB, REAL/FLOA/DOUB), so that common declarations classify as people mean them.
    /// </summary>
    internal static (TypeFamily Family, int? Length, int? Precision, int? Scale) Classify(string declared)
    {
        var type = declared.ToUpperInvariant();
        var family = type switch
        {
            "" => TypeFamily.Other,
            _ when type.Contains("BOOL", StringComparison.Ordinal) => TypeFamily.Boolean,
            _ when type.Contains("DATETIME", StringComparison.Ordinal) || type.Contains("TIMESTAMP", StringComparison.Ordinal) => TypeFamily.Timestamp,
            _ when type.StartsWith("DATE", StringComparison.Ordinal) => TypeFamily.Date,
            _ when type.StartsWith("TIME", StringComparison.Ordinal) => TypeFamily.Time,
            _ when type.Contains("UUID", StringComparison.Ordinal) || type.Contains("GUID", StringComparison.Ordinal) => TypeFamily.Uuid,
            _ when type.Contains("JSON", StringComparison.Ordinal) => TypeFamily.Json,
            _ when type.Contains("INT", StringComparison.Ordinal) => TypeFamily.Integer,
            _ when type.Contains("CHAR", StringComparison.Ordinal) || type.Contains("CLOB", StringComparison.Ordinal) || type.Contains("TEXT", StringComparison.Ordinal) => TypeFamily.String,
            _ when type.Contains("BLOB", StringComparison.Ordinal) || type.Contains("BINARY", StringComparison.Ordinal) => TypeFamily.Binary,
            _ when type.Contains("REAL", StringComparison.Ordinal) || type.Contains("FLOA", StringComparison.Ordinal) || type.Contains("DOUB", StringComparison.Ordinal) => TypeFamily.Float,
            _ when type.Contains("DEC", StringComparison.Ordinal) || type.Contains("NUMERIC", StringComparison.Ordinal) || type.Contains("MONEY", StringComparison.Ordinal) => TypeFamily.Decimal,
            _ => TypeFamily.Other,
        };
        var match = TypeArguments().Match(declared);
        int? first = match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
        int? second = match.Success && match.Groups[2].Success ? int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) : null;
        return family switch
        {
            TypeFamily.String or TypeFamily.Binary => (family, first, null, null),
            TypeFamily.Decimal when first is not null => (family, null, first, second ?? 0),
            _ => (family, null, null, null),
        };
    }

    [GeneratedRegex(@"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")]
    private static partial Regex TypeArguments();

    private sealed class TableBuilder(string name, bool isView, string? sql)
    {
        private readonly ParsedTable _parsed = sql is null || isView ? new ParsedTable() : SqliteDdlParser.ParseTable(sql);
        private List<ParsedForeignKey>? _unclaimedForeignKeys;

        public bool IsView { get; } = isView;

        public List<ReflectionRow> ColumnRows { get; } = [];

        public List<ForeignKeyInfo> ForeignKeys { get; } = [];

        public List<IndexInfo> Indexes { get; } = [];

        public List<UniqueConstraintInfo> Uniques { get; } = [];

        /// <summary>The DDL's foreign key for these columns and table (pragmas know neither names nor DEFERRABLE).</summary>
        public ParsedForeignKey? TakeParsedForeignKey(IReadOnlyList<string> columns, string referenced)
        {
            _unclaimedForeignKeys ??= [.. _parsed.ForeignKeys];
            var found = _unclaimedForeignKeys.FirstOrDefault(f => f.ReferencedTable.Equals(referenced, StringComparison.OrdinalIgnoreCase)
                && f.Columns.SequenceEqual(columns, StringComparer.OrdinalIgnoreCase));
            if (found is not null)
            {
                _unclaimedForeignKeys.Remove(found);
            }

            return found;
        }

        public void AddIndex(string indexName, List<ReflectionRow> parts, string? indexSql)
        {
            var origin = parts[0].GetString("origin");
            var (expressions, predicate) = indexSql is null ? ([], null) : SqliteDdlParser.ParseIndex(indexSql);
            var columns = parts.Select((p, i) => p.GetInt64("cid") switch
            {
                -2 => new IndexColumnInfo(null, i < expressions.Count ? expressions[i] : "?", p.GetBoolean("descending")),
                -1 => new IndexColumnInfo("rowid", null, p.GetBoolean("descending")),
                _ => new IndexColumnInfo(p.GetStringOrNull("column_name"), null, p.GetBoolean("descending")),
            }).ToList();
            if (origin == "u")
            {
                var names = columns.Select(c => c.Name ?? "").ToList();
                var declared = _parsed.Uniques.FirstOrDefault(u => u.Columns.SequenceEqual(names, StringComparer.OrdinalIgnoreCase));
                Uniques.Add(new UniqueConstraintInfo(declared.Name, names));
            }

            Indexes.Add(new IndexInfo
            {
                Name = indexName,
                Columns = columns,
                Unique = parts[0].GetBoolean("is_unique"),
                Predicate = predicate,
                BacksConstraint = origin is "u" or "pk",
            });
        }

        public TableInfo BuildTable()
        {
            var keyColumns = ColumnRows.Where(r => r.GetInt32("pk") > 0).OrderBy(r => r.GetInt32("pk")).Select(r => r.GetString("name")).ToList();

            // A rowid table's only INTEGER PRIMARY KEY column is the rowid: filled in when an insert leaves it out, never NULL.
            var rowIdAlias = !_parsed.WithoutRowId && keyColumns.Count == 1
                && ColumnRows.First(r => r.GetString("name") == keyColumns[0]).GetString("type").Equals("INTEGER", StringComparison.OrdinalIgnoreCase)
                ? keyColumns[0] : null;
            return new TableInfo
            {
                Name = name,
                Columns = [.. ColumnRows.Select(r => Column(r, r.GetString("name") == rowIdAlias))],
                PrimaryKey = keyColumns.Count > 0 ? new PrimaryKeyInfo(_parsed.PrimaryKeyName, keyColumns) : null,
                ForeignKeys = ForeignKeys,
                UniqueConstraints = Uniques,
                CheckConstraints = [.. _parsed.Checks.Select(c => new CheckConstraintInfo(c.Name, c.Expression))],
                Indexes = Indexes,
            };
        }

        public ViewInfo BuildView() => new()
        {
            Name = name,
            Definition = sql is null ? null : SqliteDdlParser.ParseViewBody(sql),
            Columns = [.. ColumnRows.Select(r => Column(r, rowIdAlias: false))],
        };

        private ColumnInfo Column(ReflectionRow row, bool rowIdAlias)
        {
            var columnName = row.GetString("name");
            var declared = row.GetStringOrNull("type") ?? "";
            var (family, length, precision, scale) = Classify(declared);
            var parsed = _parsed.FindColumn(columnName);
            var hidden = row.GetInt32("hidden"); // 2: generated virtual, 3: generated stored
            var generated = hidden is 2 or 3 ? new GeneratedColumnInfo(parsed?.GeneratedExpression ?? "", hidden == 3) : null;
            return new ColumnInfo
            {
                Name = columnName,
                Type = declared,
                TypeFamily = family,
                Length = length,
                Precision = precision,
                Scale = scale,
                Nullable = !row.GetBoolean("not_null") && !rowIdAlias,
                Default = row.GetStringOrNull("default_expr"),
                AutoIncrement = rowIdAlias,
                Generated = generated,
                Collation = parsed?.Collation,
            };
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class SqliteJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
