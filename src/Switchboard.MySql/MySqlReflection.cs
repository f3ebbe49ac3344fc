using System.Globalization;
using System.Text;
using Switchboard.Reflection;

namespace Switchboard.MySql;

public sealed partial class MySqlDialect
{
    public override bool SupportsReflection => true;

    /// <summary>Reflects from information_schema: eight queries whatever the number of tables.</summary>
    public override ValueTask<DatabaseSchema> ReflectAsync(ReflectionContext context) => MySqlReflection.ReflectAsync(context);
}

/// <summary>
/// information_schema reflection for MySQL and MariaDB. One query per object kind, filtered by the schema and table
/// names passed as parameters. The connection comes from the engine, so MySql.Data's utf8mb3 fix is already applied.
/// </summary>
internal static class MySqlReflection
{
    private const string HeaderSql = """
        SELECT DATABASE() AS default_schema,
               (SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = COALESCE(@schema, DATABASE())) AS schema_name
        """;

    private const string TablesSql = """
        SELECT TABLE_NAME AS table_name, TABLE_TYPE AS table_type, TABLE_COMMENT AS comment
        FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = @schema AND TABLE_TYPE IN ({1}) {0}
        """;

    private const string ColumnsSql = """
        SELECT TABLE_NAME AS table_name, COLUMN_NAME AS name, ORDINAL_POSITION AS position, COLUMN_DEFAULT AS default_expr,
               IS_NULLABLE AS nullable, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type,
               CHARACTER_MAXIMUM_LENGTH AS char_length, NUMERIC_PRECISION AS num_precision, NUMERIC_SCALE AS num_scale,
               COLLATION_NAME AS collation, EXTRA AS extra, GENERATION_EXPRESSION AS generation_expression, COLUMN_COMMENT AS comment
        FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = @schema {0}
        ORDER BY TABLE_NAME, ORDINAL_POSITION
        """;

    // KEY_COLUMN_USAGE holds primary keys (always named PRIMARY), unique keys and foreign keys (with a referenced table).
    // Joining it to TABLE_CONSTRAINTS and REFERENTIAL_CONSTRAINTS costs MariaDB seconds on 1,000 tables (each side is
    // materialised); read separately, each takes milliseconds, and the rules are joined in memory.
    private const string KeysSql = """
        SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, COLUMN_NAME AS column_name, ORDINAL_POSITION AS position,
               REFERENCED_TABLE_SCHEMA AS ref_schema, REFERENCED_TABLE_NAME AS ref_table, REFERENCED_COLUMN_NAME AS ref_column
        FROM information_schema.KEY_COLUMN_USAGE
        WHERE TABLE_SCHEMA = @schema {0}
        ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION
        """;

    private const string RulesSql = """
        SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, UPDATE_RULE AS on_update, DELETE_RULE AS on_delete
        FROM information_schema.REFERENTIAL_CONSTRAINTS
        WHERE CONSTRAINT_SCHEMA = @schema {0}
        """;

    // MariaDB's CHECK_CONSTRAINTS has TABLE_NAME; MySQL 8's does not, so it goes through TABLE_CONSTRAINTS.
    private const string MariaDbChecksSql = """
        SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, CHECK_CLAUSE AS expression, LEVEL AS level
        FROM information_schema.CHECK_CONSTRAINTS
        WHERE CONSTRAINT_SCHEMA = @schema {0}
        """;

    private const string MySqlChecksSql = """
        SELECT tc.TABLE_NAME AS table_name, cc.CONSTRAINT_NAME AS name, cc.CHECK_CLAUSE AS expression, 'Table' AS level
        FROM information_schema.TABLE_CONSTRAINTS tc
        JOIN information_schema.CHECK_CONSTRAINTS cc ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
        WHERE tc.TABLE_SCHEMA = @schema AND tc.CONSTRAINT_TYPE = 'CHECK' {0}
        """;

    private const string IndexesSql = """
        SELECT TABLE_NAME AS table_name, INDEX_NAME AS name, NON_UNIQUE AS non_unique, SEQ_IN_INDEX AS position,
               COLUMN_NAME AS column_name, COLLATION AS sort_order
        FROM information_schema.STATISTICS
        WHERE TABLE_SCHEMA = @schema {0}
        ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX
        """;

    private const string ViewsSql = """
        SELECT TABLE_NAME AS table_name, VIEW_DEFINITION AS definition
        FROM information_schema.VIEWS
        WHERE TABLE_SCHEMA = @schema {0}
        """;

    public static async ValueTask<DatabaseSchema> ReflectAsync(ReflectionContext context)
    {
        var options = context.Options;
        var header = (await context.QueryAsync(HeaderSql, new Dictionary<string, object?> { ["schema"] = options.Schema }).ConfigureAwait(false))[0];
        var result = new DatabaseSchema
        {
            Database = context.DatabaseName,
            Dialect = "mysql",
            DefaultSchema = header.GetStringOrNull("default_schema"),
        };
        if (header.GetStringOrNull("schema_name") is not { } schemaName)
        {
            return result; // no such schema (or no database selected): the engine reports it
        }

        var schema = new SchemaInfo { Name = schemaName };
        if (options.Tables is { Count: 0 })
        {
            return result with { Schemas = [schema] };
        }

        // Table names go in as parameters @t0, @t1, …; only the placeholders are written into the SQL.
        var parameters = new Dictionary<string, object?> { ["schema"] = schemaName };
        var tableFilter = "";
        if (options.Tables is { } tables)
        {
            var placeholders = new StringBuilder();
            for (var i = 0; i < tables.Count; i++)
            {
                parameters["t" + i.ToString(CultureInfo.InvariantCulture)] = tables[i];
                placeholders.Append(i == 0 ? "@t" : ", @t").Append(i.ToString(CultureInfo.InvariantCulture));
            }

            tableFilter = $"AND TABLE_NAME IN ({placeholders})";
        }

        var relations = new Dictionary<string, Relation>(StringComparer.Ordinal);
        var types = options.IncludeViews ? "'BASE TABLE', 'SYSTEM VERSIONED', 'VIEW'" : "'BASE TABLE', 'SYSTEM VERSIONED'";
        foreach (var row in await context.QueryAsync(Format(TablesSql, tableFilter, types), parameters).ConfigureAwait(false))
        {
            var isView = row.GetString("table_type") == "VIEW";
            relations[row.GetString("table_name")] = new Relation(row.GetString("table_name"), isView, isView ? null : Empty(row.GetStringOrNull("comment")));
        }

        foreach (var row in await context.QueryAsync(Format(ColumnsSql, tableFilter), parameters).ConfigureAwait(false))
        {
            if (relations.TryGetValue(row.GetString("table_name"), out var relation))
            {
                relation.Columns.Add(ReadColumn(row));
            }
        }

        await ReadKeysAsync(context, tableFilter, parameters, relations).ConfigureAwait(false);

        var mariaDb = context.ServerVersion?.Contains("MariaDB", StringComparison.OrdinalIgnoreCase) ?? true;
        var checksSql = mariaDb ? Format(MariaDbChecksSql, tableFilter) : Format(MySqlChecksSql, tableFilter.Replace("TABLE_NAME", "tc.TABLE_NAME", StringComparison.Ordinal));
        foreach (var row in await context.QueryAsync(checksSql, parameters).ConfigureAwait(false))
        {
            if (relations.TryGetValue(row.GetString("table_name"), out var relation))
            {
                relation.Checks.Add((row.GetString("name"), row.GetString("expression"), row.GetStringOrNull("level") == "Column"));
            }
        }

        foreach (var group in (await context.QueryAsync(Format(IndexesSql, tableFilter), parameters).ConfigureAwait(false))
                     .GroupBy(r => (Table: r.GetString("table_name"), Name: r.GetString("name"))))
        {
            if (relations.TryGetValue(group.Key.Table, out var relation))
            {
                relation.Indexes.Add(new IndexInfo
                {
                    Name = group.Key.Name,
                    Columns = [.. group.OrderBy(r => r.GetInt64("position")).Select(r => new IndexColumnInfo(r.GetStringOrNull("column_name"), null, r.GetStringOrNull("sort_order") == "D"))],
                    Unique = !group.First().GetBoolean("non_unique"),

                    // Every MySQL unique index is a unique constraint, and PRIMARY is the primary key.
                    BacksConstraint = group.Key.Name == "PRIMARY" || relation.Uniques.Any(u => u.Name == group.Key.Name),
                });
            }
        }

        if (options.IncludeViews)
        {
            foreach (var row in await context.QueryAsync(Format(ViewsSql, tableFilter), parameters).ConfigureAwait(false))
            {
                if (relations.TryGetValue(row.GetString("table_name"), out var relation))
                {
                    relation.Definition = row.GetStringOrNull("definition");
                }
            }
        }

        return result with
        {
            Schemas =
            [
                schema with
                {
                    Tables = [.. relations.Values.Where(r => !r.IsView).Select(r => r.BuildTable())],
                    Views = [.. relations.Values.Where(r => r.IsView).Select(r => r.BuildView())],
                },
            ],
        };
    }

    private static async ValueTask ReadKeysAsync(ReflectionContext context, string tableFilter, Dictionary<string, object?> parameters, Dictionary<string, Relation> relations)
    {
        var rules = (await context.QueryAsync(Format(RulesSql, tableFilter), parameters).ConfigureAwait(false))
            .ToDictionary(r => (r.GetString("table_name"), r.GetString("name")), r => (Update: r.GetStringOrNull("on_update"), Delete: r.GetStringOrNull("on_delete")));
        var rows = await context.QueryAsync(Format(KeysSql, tableFilter), parameters).ConfigureAwait(false);
        // A unique key and a foreign key may share a name: they are told apart by the referenced table.
        foreach (var group in rows.GroupBy(r => (Table: r.GetString("table_name"), Name: r.GetString("name"), Foreign: r.GetStringOrNull("ref_table") is not null)))
        {
            if (!relations.TryGetValue(group.Key.Table, out var relation))
            {
                continue;
            }

            var parts = group.OrderBy(r => r.GetInt64("position")).ToList();
            var columns = parts.Select(r => r.GetString("column_name")).ToList();
            var type = group.Key.Foreign ? "FOREIGN KEY" : group.Key.Name == "PRIMARY" ? "PRIMARY KEY" : "UNIQUE";
            var rule = rules.GetValueOrDefault((group.Key.Table, group.Key.Name));
            switch (type)
            {
                case "PRIMARY KEY":
                    relation.PrimaryKey = new PrimaryKeyInfo(null, columns); // always called PRIMARY: not a name anyone chose
                    break;
                case "UNIQUE":
                    relation.Uniques.Add(new UniqueConstraintInfo(group.Key.Name, columns));
                    break;
                case "FOREIGN KEY":
                    relation.ForeignKeys.Add(new ForeignKeyInfo
                    {
                        Name = group.Key.Name,
                        Columns = columns,
                        ReferencedSchema = parts[0].GetStringOrNull("ref_schema"),
                        ReferencedTable = parts[0].GetString("ref_table"),
                        ReferencedColumns = [.. parts.Select(r => r.GetString("ref_column"))],
                        OnDelete = rule.Delete ?? "NO ACTION",
                        OnUpdate = rule.Update ?? "NO ACTION",
                    });
                    break;
            }
        }
    }

    /// <summary>EXTRA says <c>on update current_timestamp()</c> (MariaDB) or <c>DEFAULT_GENERATED on update CURRENT_TIMESTAMP</c> (MySQL 8).</summary>
    private static string? OnUpdate(string extra)
    {
        var at = extra.IndexOf("on update ", StringComparison.OrdinalIgnoreCase);
        return at < 0 ? null : extra[(at + "on update ".Length)..].Trim();
    }

    private static ColumnInfo ReadColumn(ReflectionRow row)
    {
        var dataType = row.GetString("data_type").ToLowerInvariant();
        var columnType = row.GetString("column_type");
        var extra = row.GetStringOrNull("extra") ?? "";
        var generated = extra.Contains("GENERATED", StringComparison.OrdinalIgnoreCase) && !extra.Contains("DEFAULT_GENERATED", StringComparison.OrdinalIgnoreCase)
            && row.GetStringOrNull("generation_expression") is { Length: > 0 } expression
            ? new GeneratedColumnInfo(expression, extra.Contains("STORED", StringComparison.OrdinalIgnoreCase) || extra.Contains("PERSISTENT", StringComparison.OrdinalIgnoreCase))
            : null;
        var family = Family(dataType, columnType);
        var @default = row.GetStringOrNull("default_expr");
        return new ColumnInfo
        {
            Name = row.GetString("name"),
            Type = columnType,
            TypeFamily = family,
            Length = family is TypeFamily.String or TypeFamily.Binary && dataType is "char" or "varchar" or "binary" or "varbinary"
                ? row.GetInt32OrNull("char_length") : null,
            Precision = family == TypeFamily.Decimal ? row.GetInt32OrNull("num_precision") : null,
            Scale = family == TypeFamily.Decimal ? row.GetInt32OrNull("num_scale") : null,
            Nullable = row.GetBoolean("nullable"),

            // MariaDB writes an explicit or implied DEFAULT NULL as the text NULL; a generated column has none.
            Default = generated is null && !string.Equals(@default, "NULL", StringComparison.OrdinalIgnoreCase) ? @default : null,
            AutoIncrement = extra.Contains("auto_increment", StringComparison.OrdinalIgnoreCase),
            OnUpdate = OnUpdate(extra),
            Generated = generated,
            Collation = row.GetStringOrNull("collation"),
            Comment = Empty(row.GetStringOrNull("comment")),
        };
    }

    internal static TypeFamily Family(string dataType, string columnType) => dataType switch
    {
        "tinyint" when columnType.StartsWith("tinyint(1)", StringComparison.OrdinalIgnoreCase) => TypeFamily.Boolean,
        "bit" when columnType.Equals("bit(1)", StringComparison.OrdinalIgnoreCase) => TypeFamily.Boolean,
        "tinyint" or "smallint" or "mediumint" or "int" or "integer" or "bigint" or "year" => TypeFamily.Integer,
        "decimal" or "numeric" or "dec" or "fixed" => TypeFamily.Decimal,
        "float" or "double" or "real" or "double precision" => TypeFamily.Float,
        "char" or "varchar" or "tinytext" or "text" or "mediumtext" or "longtext" or "enum" or "set" => TypeFamily.String,
        "binary" or "varbinary" or "tinyblob" or "blob" or "mediumblob" or "longblob" or "bit" => TypeFamily.Binary,
        "date" => TypeFamily.Date,
        "time" => TypeFamily.Time,
        "datetime" or "timestamp" => TypeFamily.Timestamp,
        "uuid" => TypeFamily.Uuid,
        "json" => TypeFamily.Json,
        _ => TypeFamily.Other,
    };

    private static string? Empty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static string Format(string sql, string filter, string types = "") => string.Format(CultureInfo.InvariantCulture, sql, filter, types);

    private sealed class Relation(string name, bool isView, string? comment)
    {
        public bool IsView { get; } = isView;

        public string? Definition { get; set; }

        public List<ColumnInfo> Columns { get; } = [];

        public PrimaryKeyInfo? PrimaryKey { get; set; }

        public List<ForeignKeyInfo> ForeignKeys { get; } = [];

        public List<UniqueConstraintInfo> Uniques { get; } = [];

        public List<(string Name, string Expression, bool ColumnLevel)> Checks { get; } = [];

        public List<IndexInfo> Indexes { get; } = [];

        public TableInfo BuildTable()
        {
            // MariaDB's JSON is LONGTEXT plus a column check json_valid(`col`): report a json column and drop that check.
            var columns = Columns.ToList();
            var checks = new List<CheckConstraintInfo>();
            foreach (var (checkName, expression, columnLevel) in Checks)
            {
                var index = columns.FindIndex(c => c.Name == checkName);
                if (columnLevel && index >= 0 && columns[index].Type.Equals("longtext", StringComparison.OrdinalIgnoreCase)
                    && expression.Replace(" ", "", StringComparison.Ordinal) == "json_valid(`" + checkName.Replace("`", "``", StringComparison.Ordinal) + "`)")
                {
                    columns[index] = columns[index] with { TypeFamily = TypeFamily.Json };
                    continue;
                }

                checks.Add(new CheckConstraintInfo(checkName, expression));
            }

            return new TableInfo
            {
                Name = name,
                Comment = comment,
                Columns = columns,
                PrimaryKey = PrimaryKey,
                ForeignKeys = ForeignKeys,
                UniqueConstraints = Uniques,
                CheckConstraints = checks,
                Indexes = Indexes,
            };
        }

        public ViewInfo BuildView() => new()
        {
            Name = name,
            Definition = Definition,
            Columns = Columns,
        };
    }
}
