using Switchboard.Reflection;

namespace Switchboard.PostgreSql;

public sealed partial class PostgreSqlDialect
{
    public override bool SupportsReflection => true;

    /// <summary>Reflects from pg_catalog: seven queries whatever the number of tables.</summary>
    public override ValueTask<DatabaseSchema> ReflectAsync(ReflectionContext context) => PostgreSqlReflection.ReflectAsync(context);
}

/// <summary>
/// pg_catalog reflection. One query per object kind (schemas, relations, columns, constraints, indexes, enums, domains),
/// each filtered by schema and table names passed as parameters.
/// </summary>
internal static class PostgreSqlReflection
{
    private const string SystemSchemas = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'";

    private const string SchemasSql = """
        SELECT current_schema() AS default_schema,
               ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE {0} ORDER BY 1) AS schemas
        """;

    private const string RelationsSql = """
        SELECT c.oid::int8 AS rel, n.nspname AS schema_name, c.relname AS name, c.relkind::text AS kind,
               pg_catalog.obj_description(c.oid, 'pg_class') AS comment,
               CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid, true) END AS definition
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ({1}) AND {0}
        """;

    private const string ColumnsSql = """
        SELECT a.attrelid::int8 AS rel, a.attnum AS num, a.attname AS name,
               pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
               a.attnotnull AS not_null,
               pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_expr,
               a.attidentity::text AS identity, a.attgenerated::text AS generated,
               s.seqstart AS identity_start, s.seqincrement AS identity_increment,
               CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN co.collname END AS collation,
               pg_catalog.col_description(a.attrelid, a.attnum) AS comment,
               bt.typname AS base_type, bt.typtype::text AS base_kind,
               CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS type_mod
        FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
        LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
        LEFT JOIN pg_catalog.pg_depend dep ON a.attidentity <> '' AND dep.classid = 'pg_catalog.pg_class'::regclass
             AND dep.refclassid = 'pg_catalog.pg_class'::regclass AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype = 'i'
        LEFT JOIN pg_catalog.pg_sequence s ON s.seqrelid = dep.objid
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ({1}) AND {0}
        ORDER BY a.attrelid, a.attnum
        """;

    private const string ConstraintsSql = """
        SELECT con.conrelid::int8 AS rel, con.conname AS name, con.contype::text AS type,
               ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord) AS columns,
               fn.nspname AS ref_schema, fc.relname AS ref_table,
               ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord) AS ref_columns,
               con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update,
               con.condeferrable AS deferrable, con.condeferred AS deferred,
               CASE WHEN con.contype = 'c' THEN pg_catalog.pg_get_expr(con.conbin, con.conrelid, true) END AS expression
        FROM pg_catalog.pg_constraint con
        JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
        LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
        WHERE con.contype IN ('p', 'f', 'u', 'c') AND c.relkind IN ('r', 'p') AND {0}
        """;

    private const string IndexesSql = """
        SELECT i.indrelid::int8 AS rel, ic.relname AS name, i.indisunique AS is_unique,
               i.indkey::int2[] AS keys, i.indoption::int2[] AS options,
               ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k ORDER BY k) AS parts,
               pg_catalog.pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
               EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con
                       WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')) AS backs_constraint
        FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {0}
        """;

    private const string EnumsSql = """
        SELECT n.nspname AS schema_name, t.typname AS name,
               ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels
        FROM pg_catalog.pg_type t
        JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype = 'e' AND {0}
        """;

    private const string DomainsSql = """
        SELECT n.nspname AS schema_name, t.typname AS name,
               pg_catalog.format_type(t.typbasetype, t.typtypmod) AS type, bt.typname AS base_type, bt.typtype::text AS base_kind,
               t.typtypmod AS type_mod, t.typnotnull AS not_null, t.typdefault AS default_expr,
               ARRAY(SELECT c.conname::text FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY c.conname) AS check_names,
               ARRAY(SELECT pg_catalog.pg_get_constraintdef(c.oid, true) FROM pg_catalog.pg_constraint c
                     WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY c.conname) AS check_definitions
        FROM pg_catalog.pg_type t
        JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
        WHERE t.typtype = 'd' AND {0}
        """;

    public static async ValueTask<DatabaseSchema> ReflectAsync(ReflectionContext context)
    {
        var options = context.Options;
        var schemaParameters = new Dictionary<string, object?>();
        var schemaFilter = SystemSchemas;
        if (options.Schema is { } schema)
        {
            schemaFilter += " AND n.nspname = @schema";
            schemaParameters["schema"] = schema;
        }

        var tableParameters = new Dictionary<string, object?>(schemaParameters);
        var tableFilter = schemaFilter;
        if (options.Tables is { } tables)
        {
            tableFilter += " AND c.relname = ANY(@tables)";
            tableParameters["tables"] = tables.ToArray();
        }

        var header = (await context.QueryAsync(Format(SchemasSql, schemaFilter), schemaParameters).ConfigureAwait(false))[0];
        var schemaNames = header.GetStrings("schemas");
        var builders = schemaNames.ToDictionary(n => n, n => new SchemaBuilder(n), StringComparer.Ordinal);

        if (options.Tables is not { Count: 0 })
        {
            await ReadRelationsAsync(context, tableFilter, tableParameters, builders).ConfigureAwait(false);
        }

        foreach (var row in await context.QueryAsync(Format(EnumsSql, schemaFilter), schemaParameters).ConfigureAwait(false))
        {
            if (builders.TryGetValue(row.GetString("schema_name"), out var b))
            {
                b.Enums.Add(new EnumInfo(row.GetString("name"), row.GetStrings("labels")));
            }
        }

        foreach (var row in await context.QueryAsync(Format(DomainsSql, schemaFilter), schemaParameters).ConfigureAwait(false))
        {
            if (!builders.TryGetValue(row.GetString("schema_name"), out var b))
            {
                continue;
            }

            var (family, length, precision, scale) = Classify(row.GetString("base_type"), row.GetString("base_kind"), row.GetInt32("type_mod"));
            var names = row.GetStrings("check_names");
            var definitions = row.GetStrings("check_definitions");
            b.Domains.Add(new DomainInfo
            {
                Name = row.GetString("name"),
                Type = row.GetString("type"),
                TypeFamily = family,
                Length = length,
                Precision = precision,
                Scale = scale,
                Nullable = !row.GetBoolean("not_null"),
                Default = row.GetStringOrNull("default_expr"),
                CheckConstraints = [.. names.Zip(definitions, (n, d) => new CheckConstraintInfo(n, StripCheck(d)))],
            });
        }

        return new DatabaseSchema
        {
            Database = context.DatabaseName,
            Dialect = "postgresql",
            DefaultSchema = header.GetStringOrNull("default_schema"),
            Schemas = [.. builders.Values.Select(b => b.Build())],
        };
    }

    private static async ValueTask ReadRelationsAsync(ReflectionContext context, string filter, Dictionary<string, object?> parameters,
        Dictionary<string, SchemaBuilder> schemas)
    {
        // Constant lists, not input: which relation kinds to read.
        var kinds = context.Options.IncludeViews ? "'r', 'p', 'v', 'm'" : "'r', 'p'";
        var relations = new Dictionary<long, RelationBuilder>();
        foreach (var row in await context.QueryAsync(Format(RelationsSql, filter, kinds), parameters).ConfigureAwait(false))
        {
            if (schemas.TryGetValue(row.GetString("schema_name"), out var schema))
            {
                var relation = new RelationBuilder(row.GetString("name"), row.GetString("kind"), row.GetStringOrNull("comment"), row.GetStringOrNull("definition"));
                relations[row.GetInt64("rel")] = relation;
                schema.Relations.Add(relation);
            }
        }

        foreach (var row in await context.QueryAsync(Format(ColumnsSql, filter, kinds), parameters).ConfigureAwait(false))
        {
            if (relations.TryGetValue(row.GetInt64("rel"), out var relation))
            {
                var column = ReadColumn(row);
                relation.Columns.Add(column);
                relation.ColumnsByNumber[row.GetInt32("num")] = column.Name;
            }
        }

        foreach (var row in await context.QueryAsync(Format(ConstraintsSql, filter), parameters).ConfigureAwait(false))
        {
            if (!relations.TryGetValue(row.GetInt64("rel"), out var relation))
            {
                continue;
            }

            var name = row.GetString("name");
            var columns = row.GetStrings("columns");
            switch (row.GetString("type"))
            {
                case "p":
                    relation.PrimaryKey = new PrimaryKeyInfo(name, columns);
                    break;
                case "u":
                    relation.Uniques.Add(new UniqueConstraintInfo(name, columns));
                    break;
                case "c":
                    relation.Checks.Add(new CheckConstraintInfo(name, row.GetString("expression")));
                    break;
                case "f":
                    relation.ForeignKeys.Add(new ForeignKeyInfo
                    {
                        Name = name,
                        Columns = columns,
                        ReferencedSchema = row.GetStringOrNull("ref_schema"),
                        ReferencedTable = row.GetString("ref_table"),
                        ReferencedColumns = row.GetStrings("ref_columns"),
                        OnDelete = Rule(row.GetString("on_delete")),
                        OnUpdate = Rule(row.GetString("on_update")),
                        Deferrable = row.GetBoolean("deferrable"),
                        InitiallyDeferred = row.GetBoolean("deferred"),
                    });
                    break;
            }
        }

        foreach (var row in await context.QueryAsync(Format(IndexesSql, filter), parameters).ConfigureAwait(false))
        {
            if (!relations.TryGetValue(row.GetInt64("rel"), out var relation))
            {
                continue;
            }

            var keys = row.GetInt64s("keys");
            var flags = row.GetInt64s("options");
            var parts = row.GetStrings("parts");
            var columns = new List<IndexColumnInfo>(parts.Count);
            for (var i = 0; i < parts.Count; i++)
            {
                var descending = i < flags.Count && (flags[i] & 1) != 0; // INDOPTION_DESC
                var column = keys[i] != 0 && relation.ColumnsByNumber.TryGetValue((int)keys[i], out var n) ? n : null;
                columns.Add(column is not null ? new IndexColumnInfo(column, null, descending) : new IndexColumnInfo(null, parts[i], descending));
            }

            relation.Indexes.Add(new IndexInfo
            {
                Name = row.GetString("name"),
                Columns = columns,
                Unique = row.GetBoolean("is_unique"),
                Predicate = row.GetStringOrNull("predicate"),
                BacksConstraint = row.GetBoolean("backs_constraint"),
            });
        }
    }

    private static ColumnInfo ReadColumn(ReflectionRow row)
    {
        var (family, length, precision, scale) = Classify(row.GetString("base_type"), row.GetString("base_kind"), row.GetInt32("type_mod"));
        var expression = row.GetStringOrNull("default_expr");
        var generated = row.GetStringOrNull("generated") is "s" && expression is not null ? new GeneratedColumnInfo(expression, Stored: true) : null;
        var identity = row.GetStringOrNull("identity") switch
        {
            "a" => new IdentityInfo(true, row.GetInt64OrNull("identity_start"), row.GetInt64OrNull("identity_increment")),
            "d" => new IdentityInfo(false, row.GetInt64OrNull("identity_start"), row.GetInt64OrNull("identity_increment")),
            _ => null,
        };
        var @default = generated is null ? expression : null;
        return new ColumnInfo
        {
            Name = row.GetString("name"),
            Type = row.GetString("type"),
            TypeFamily = family,
            Length = length,
            Precision = precision,
            Scale = scale,
            Nullable = !row.GetBoolean("not_null"),
            Default = @default,
            AutoIncrement = @default is not null && @default.StartsWith("nextval(", StringComparison.OrdinalIgnoreCase),
            Identity = identity,
            Generated = generated,
            Collation = row.GetStringOrNull("collation"),
            Comment = row.GetStringOrNull("comment"),
        };
    }

    /// <summary>Type family and declared size of a base type (domains are resolved to their base type first).</summary>
    internal static (TypeFamily Family, int? Length, int? Precision, int? Scale) Classify(string baseType, string baseKind, int typeMod)
    {
        if (baseKind == "e")
        {
            return (TypeFamily.String, null, null, null);
        }

        var family = baseType switch
        {
            "int2" or "int4" or "int8" or "oid" => TypeFamily.Integer,
            "numeric" or "money" => TypeFamily.Decimal,
            "float4" or "float8" => TypeFamily.Float,
            "text" or "varchar" or "bpchar" or "name" or "char" or "citext" => TypeFamily.String,
            "bytea" or "bit" or "varbit" => TypeFamily.Binary,
            "bool" => TypeFamily.Boolean,
            "date" => TypeFamily.Date,
            "time" or "timetz" => TypeFamily.Time,
            "timestamp" or "timestamptz" => TypeFamily.Timestamp,
            "uuid" => TypeFamily.Uuid,
            "json" or "jsonb" => TypeFamily.Json,
            _ => TypeFamily.Other,
        };
        return baseType switch
        {
            "varchar" or "bpchar" when typeMod >= 4 => (family, typeMod - 4, null, null),
            "bit" or "varbit" when typeMod > 0 => (family, typeMod, null, null),
            "numeric" when typeMod >= 4 => (family, null, ((typeMod - 4) >> 16) & 0xffff, (typeMod - 4) & 0x7ff),
            _ => (family, null, null, null),
        };
    }

    private static string Rule(string code) => code switch
    {
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    };

    /// <summary><c>CHECK ((VALUE &gt; 0))</c> → <c>(VALUE &gt; 0)</c>, as table checks read.</summary>
    private static string StripCheck(string definition)
    {
        var text = definition.Trim();
        if (text.EndsWith(" NOT VALID", StringComparison.Ordinal))
        {
            text = text[..^" NOT VALID".Length];
        }

        return text.StartsWith("CHECK ", StringComparison.Ordinal) ? text["CHECK ".Length..].Trim() : text;
    }

    private static string Format(string sql, string filter, string kinds = "") => string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, filter, kinds);

    private sealed class SchemaBuilder(string name)
    {
        public List<RelationBuilder> Relations { get; } = [];

        public List<EnumInfo> Enums { get; } = [];

        public List<DomainInfo> Domains { get; } = [];

        public SchemaInfo Build() => new()
        {
            Name = name,
            Tables = [.. Relations.Where(r => r.Kind is "r" or "p").Select(r => r.BuildTable())],
            Views = [.. Relations.Where(r => r.Kind is "v" or "m").Select(r => r.BuildView())],
            Enums = Enums,
            Domains = Domains,
        };
    }

    private sealed class RelationBuilder(string name, string kind, string? comment, string? definition)
    {
        public string Kind { get; } = kind;

        public List<ColumnInfo> Columns { get; } = [];

        public Dictionary<int, string> ColumnsByNumber { get; } = [];

        public PrimaryKeyInfo? PrimaryKey { get; set; }

        public List<ForeignKeyInfo> ForeignKeys { get; } = [];

        public List<UniqueConstraintInfo> Uniques { get; } = [];

        public List<CheckConstraintInfo> Checks { get; } = [];

        public List<IndexInfo> Indexes { get; } = [];

        public TableInfo BuildTable() => new()
        {
            Name = name,
            Comment = comment,
            Columns = Columns,
            PrimaryKey = PrimaryKey,
            ForeignKeys = ForeignKeys,
            UniqueConstraints = Uniques,
            CheckConstraints = Checks,
            Indexes = Indexes,
        };

        public ViewInfo BuildView() => new()
        {
            Name = name,
            Materialized = Kind == "m",
            Definition = definition?.Trim(),
            Columns = Columns,
            Comment = comment,
        };
    }
}
