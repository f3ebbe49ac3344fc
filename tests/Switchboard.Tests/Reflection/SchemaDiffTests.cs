using FsCheck;
using FsCheck.Fluent;
using Switchboard.Reflection;

namespace Switchboard.Tests.Reflection;

/// <summary>The diff rules on hand-built models (no database): what pairs, what counts as different, across dialects and within one.</summary>
public sealed class SchemaDiffTests
{
    private static DatabaseSchema Db(string dialect, params TableInfo[] tables) => new()
    {
        Database = dialect + "_db",
        Dialect = dialect,
        DefaultSchema = Default(dialect),
        Schemas = [new SchemaInfo { Name = Default(dialect), Tables = tables }],
    };

    private static string Default(string dialect) => dialect switch
    {
        "postgresql" => "public",
        "mysql" => "app",
        _ => "main",
    };

    private static TableInfo T(string name, params ColumnInfo[] columns) => new() { Name = name, Columns = columns };

    private static ColumnInfo C(string name, string type, TypeFamily family, int? length = null, int? precision = null, int? scale = null) =>
        new() { Name = name, Type = type, TypeFamily = family, Length = length, Precision = precision, Scale = scale };

    private static readonly ColumnInfo PgId = C("id", "integer", TypeFamily.Integer) with { Nullable = false };
    private static readonly ColumnInfo MyId = C("id", "int(11)", TypeFamily.Integer) with { Nullable = false };

    [Fact]
    public void Across_dialects_types_compare_by_family_and_declared_size()
    {
        var pg = Db("postgresql", T("t", PgId, C("name", "character varying(20)", TypeFamily.String, 20), C("price", "numeric(10,2)", TypeFamily.Decimal, null, 10, 2)));
        var my = Db("mysql", T("t", MyId, C("name", "varchar(20)", TypeFamily.String, 20), C("price", "decimal(10,2)", TypeFamily.Decimal, null, 10, 2)));
        var diff = SchemaDiff.Compare(pg, my);
        Assert.True(diff.Equal, string.Join("; ", diff.Differences));
        Assert.Equal(TypeComparison.Family, diff.Rules.Types);
        Assert.Equal([new SchemaPair("public", "app")], diff.SchemaPairs);

        var exact = SchemaDiff.Compare(pg, my, new DiffOptions { Types = TypeComparison.Exact });
        Assert.Equal(["id", "name", "price"], exact.Differences.Select(d => d.Name));
        Assert.All(exact.Differences, d => Assert.Equal("type", d.Property));

        var longer = Db("mysql", T("t", MyId, C("name", "varchar(30)", TypeFamily.String, 30), C("price", "decimal(12,2)", TypeFamily.Decimal, null, 12, 2)));
        var changed = SchemaDiff.Compare(pg, longer).Differences;
        Assert.Equal([("name", "string(20)", "string(30)"), ("price", "decimal(10,2)", "decimal(12,2)")], changed.Select(d => (d.Name!, d.Left!, d.Right!)));
    }

    [Fact]
    public void Within_one_dialect_declared_types_compare_exactly_unless_families_are_asked_for()
    {
        var before = Db("postgresql", T("t", PgId));
        var after = Db("postgresql", T("t", PgId with { Type = "bigint" }));
        var diff = SchemaDiff.Compare(before, after);
        var change = Assert.Single(diff.Differences);
        Assert.Equal((DifferenceKind.Changed, SchemaObjectKind.Column, "id", "type", "integer", "bigint"),
            (change.Kind, change.ObjectKind, change.Name, change.Property, change.Left, change.Right));
        Assert.Equal("column t.id: type integer → bigint", change.Message);
        Assert.True(SchemaDiff.Compare(before, after, new DiffOptions { Types = TypeComparison.Family }).Equal);
        Assert.True(SchemaDiff.Compare(before, Db("postgresql", T("t", PgId with { Type = "INTEGER " }))).Equal); // case and spacing
    }

    [Fact]
    public void Names_pair_exactly_by_default_or_ignoring_case_or_style()
    {
        var left = Db("sqlite", T("InvoiceLine", C("InvoiceLineId", "INTEGER", TypeFamily.Integer)));
        var right = Db("postgresql", T("invoice_line", C("invoice_line_id", "integer", TypeFamily.Integer)));
        var exact = SchemaDiff.Compare(left, right);
        Assert.Equal([(DifferenceKind.OnlyInLeft, "InvoiceLine"), (DifferenceKind.OnlyInRight, "invoice_line")], exact.Differences.Select(d => (d.Kind, d.Name!)));
        Assert.Equal(2, SchemaDiff.Compare(left, right, new DiffOptions { Names = NameMatching.IgnoreCase }).Differences.Count);
        Assert.True(SchemaDiff.Compare(left, right, new DiffOptions { Names = NameMatching.IgnoreStyle }).Equal);
    }

    [Fact]
    public void Nullability_defaults_and_generation_are_compared_with_cross_dialect_spellings_folded()
    {
        var pg = Db("postgresql", T("t",
            PgId with { Identity = new IdentityInfo(true, 1, 1) },
            C("status", "text", TypeFamily.String) with { Default = "'new'::text" },
            C("created", "timestamp with time zone", TypeFamily.Timestamp) with { Default = "now()" },
            C("amount", "numeric(10,2)", TypeFamily.Decimal, null, 10, 2) with { Default = "0" },
            C("active", "boolean", TypeFamily.Boolean) with { Default = "true" },
            C("note", "text", TypeFamily.String)));
        var my = Db("mysql", T("t",
            MyId with { AutoIncrement = true },
            C("status", "text", TypeFamily.String) with { Default = "'new'" },
            C("created", "timestamp", TypeFamily.Timestamp) with { Default = "current_timestamp()" },
            C("amount", "decimal(10,2)", TypeFamily.Decimal, null, 10, 2) with { Default = "0.00" },
            C("active", "tinyint(1)", TypeFamily.Boolean) with { Default = "1" },
            C("note", "text", TypeFamily.String) with { Default = "NULL" }));
        var diff = SchemaDiff.Compare(pg, my);
        Assert.True(diff.Equal, string.Join("; ", diff.Differences));

        var changed = Db("mysql", T("t",
            MyId,
            C("status", "text", TypeFamily.String) with { Default = "'old'", Nullable = false },
            C("created", "timestamp", TypeFamily.Timestamp),
            C("amount", "decimal(10,2)", TypeFamily.Decimal, null, 10, 2) with { Default = "0.00" },
            C("active", "tinyint(1)", TypeFamily.Boolean) with { Default = "1" },
            C("note", "text", TypeFamily.String) with { Generated = new GeneratedColumnInfo("upper(status)", true) }));
        Assert.Equal(
            [("id", "generatesValues"), ("status", "nullable"), ("status", "default"), ("created", "default"), ("note", "generated")],
            SchemaDiff.Compare(pg, changed).Differences.Select(d => (d.Name!, d.Property!)));
    }

    [Fact]
    public void Within_one_dialect_identity_serial_collation_and_comments_count()
    {
        var identity = Db("postgresql", T("t", PgId with { Identity = new IdentityInfo(true, 1, 1), Collation = null, Comment = "key" }));
        var serial = Db("postgresql", T("t", PgId with { AutoIncrement = true, Default = "nextval('t_id_seq'::regclass)", Comment = "the key" }));
        Assert.Equal(["generatesValues", "comment"], SchemaDiff.Compare(identity, serial).Differences.Select(d => d.Property));
        var generation = Assert.Single(SchemaDiff.Compare(identity, serial).Differences, d => d.Property == "generatesValues");
        Assert.Equal(("identity always (start 1, increment 1)", "auto-increment"), (generation.Left, generation.Right));
    }

    [Fact]
    public void Constraints_pair_by_what_they_do_and_names_count_only_within_one_dialect()
    {
        static TableInfo Orders(string? fkName, string onDelete, string? uniqueName, string checkText) => T("orders", PgId, C("customer_id", "integer", TypeFamily.Integer), C("code", "text", TypeFamily.String)) with
        {
            PrimaryKey = new PrimaryKeyInfo(uniqueName == "code" ? null : "orders_pkey", ["id"]), // MySQL: every key is PRIMARY
            ForeignKeys = [new ForeignKeyInfo { Name = fkName, Columns = ["customer_id"], ReferencedTable = "customers", ReferencedColumns = ["id"], OnDelete = onDelete }],
            UniqueConstraints = [new UniqueConstraintInfo(uniqueName, ["code"])],
            CheckConstraints = [new CheckConstraintInfo("ck_code", checkText)],
        };

        var pg = Db("postgresql", Orders("orders_customer_id_fkey", "NO ACTION", "orders_code_key", "(length(code) > (0)::integer)"));
        var my = Db("mysql", Orders("fk_orders_customer", "RESTRICT", "code", "length(`code`) > 0"));
        var across = SchemaDiff.Compare(pg, my);
        Assert.True(across.Equal, string.Join("; ", across.Differences)); // names ignored, RESTRICT = NO ACTION, checks normalised
        Assert.False(across.Rules.ConstraintNames);

        var named = SchemaDiff.Compare(pg, my, new DiffOptions { CompareConstraintNames = true });
        Assert.Equal([(SchemaObjectKind.ForeignKey, "name"), (SchemaObjectKind.UniqueConstraint, "name")],
            named.Differences.Select(d => (d.ObjectKind, d.Property!)));

        var renamed = SchemaDiff.Compare(pg, Db("postgresql", Orders("fk_new_name", "CASCADE", "orders_code_key", "(length(code) > 1)")));
        Assert.Equal(
            [(SchemaObjectKind.ForeignKey, "name", "orders_customer_id_fkey", "fk_new_name"), (SchemaObjectKind.ForeignKey, "onDelete", "NO ACTION", "CASCADE"),
             (SchemaObjectKind.CheckConstraint, "expression", "(length(code) > (0)::integer)", "(length(code) > 1)")],
            renamed.Differences.Select(d => (d.ObjectKind, d.Property!, d.Left!, d.Right!)));
    }

    [Fact]
    public void Across_dialects_a_unique_index_and_a_unique_constraint_are_the_same_thing()
    {
        var withIndex = Db("postgresql", T("t", PgId, C("code", "text", TypeFamily.String)) with
        {
            Indexes = [new IndexInfo { Name = "t_code_idx", Columns = [new IndexColumnInfo("code", null, false)], Unique = true }],
        });
        var withConstraint = Db("mysql", T("t", MyId, C("code", "text", TypeFamily.String)) with { UniqueConstraints = [new UniqueConstraintInfo("code", ["code"])] });
        Assert.True(SchemaDiff.Compare(withIndex, withConstraint).Equal);
        var samePg = Db("postgresql", T("t", PgId, C("code", "text", TypeFamily.String)) with { UniqueConstraints = [new UniqueConstraintInfo("t_code_key", ["code"])] });
        Assert.Equal([SchemaObjectKind.UniqueConstraint, SchemaObjectKind.Index], SchemaDiff.Compare(withIndex, samePg).Differences.Select(d => d.ObjectKind));
    }

    [Fact]
    public void Indexes_pair_by_name_then_by_definition()
    {
        static IndexInfo Ix(string name, bool unique, string? predicate, params IndexColumnInfo[] columns) =>
            new() { Name = name, Columns = columns, Unique = unique, Predicate = predicate };
        var a = new IndexColumnInfo("a", null, false);
        var bDesc = new IndexColumnInfo("b", null, true);
        var lower = new IndexColumnInfo(null, "lower(a)", false);
        var left = Db("postgresql", T("t", PgId) with { Indexes = [Ix("ix_ab", false, null, a, bDesc), Ix("ix_lower", false, "(a IS NOT NULL)", lower), Ix("ix_old", false, null, a)] });
        var right = Db("postgresql", T("t", PgId) with { Indexes = [Ix("ix_ab", true, null, a, bDesc), Ix("ix_lower", false, "a IS NOT NULL", lower), Ix("ix_new", false, null, a)] });
        Assert.Equal([("ix_ab", "unique"), ("ix_old", "name")], SchemaDiff.Compare(left, right).Differences.Select(d => (d.Name!, d.Property!)));
    }

    [Fact]
    public void Schemas_pair_by_name_and_default_schemas_stand_for_each_other()
    {
        var left = Db("postgresql", T("t", PgId)) with
        {
            Schemas = [new SchemaInfo { Name = "public", Tables = [T("t", PgId)] }, new SchemaInfo { Name = "sales", Tables = [T("lead", PgId)] }],
        };
        var right = Db("postgresql", T("t", PgId)) with
        {
            DefaultSchema = "main",
            Schemas = [new SchemaInfo { Name = "main", Tables = [T("t", PgId)] }, new SchemaInfo { Name = "audit" }],
        };
        var diff = SchemaDiff.Compare(left, right);
        Assert.Equal([new SchemaPair("public", "main")], diff.SchemaPairs);
        Assert.Equal([(DifferenceKind.OnlyInLeft, "sales"), (DifferenceKind.OnlyInRight, "audit")], diff.Differences.Select(d => (d.Kind, d.Name!)));
    }

    [Fact]
    public void Views_enums_and_domains_are_compared()
    {
        var left = Db("postgresql") with
        {
            Schemas =
            [
                new SchemaInfo
                {
                    Name = "public",
                    Views = [new ViewInfo { Name = "v", Definition = "SELECT 1", Columns = [C("x", "integer", TypeFamily.Integer)] }],
                    Enums = [new EnumInfo("mood", ["sad", "ok"])],
                    Domains = [new DomainInfo { Name = "amount", Type = "numeric(10,2)", TypeFamily = TypeFamily.Decimal, Precision = 10, Scale = 2 }],
                },
            ],
        };
        var right = left with
        {
            Schemas =
            [
                new SchemaInfo
                {
                    Name = "public",
                    Views = [new ViewInfo { Name = "v", Materialized = true, Definition = "SELECT  1", Columns = [C("x", "bigint", TypeFamily.Integer)] }],
                    Enums = [new EnumInfo("mood", ["sad", "ok", "happy"])],
                    Domains = [new DomainInfo { Name = "amount", Type = "numeric(10,2)", TypeFamily = TypeFamily.Decimal, Precision = 10, Scale = 2, Nullable = false }],
                },
            ],
        };
        Assert.Equal([(SchemaObjectKind.View, "materialized"), (SchemaObjectKind.Column, "type"), (SchemaObjectKind.Enum, "values"), (SchemaObjectKind.Domain, "nullable")],
            SchemaDiff.Compare(left, right).Differences.Select(d => (d.ObjectKind, d.Property!)));
    }

    [Fact]
    public void Comparing_is_reflexive_and_symmetric_for_random_schemas()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<int>(), ArbMap.Default.ArbFor<int>(), (seedA, seedB) =>
        {
            var a = RandomSchema(seedA);
            var b = RandomSchema(seedB);
            var forward = SchemaDiff.Compare(a, b).Differences;
            var backward = SchemaDiff.Compare(b, a).Differences;
            static DifferenceKind Flip(DifferenceKind k) => k switch
            {
                DifferenceKind.OnlyInLeft => DifferenceKind.OnlyInRight,
                DifferenceKind.OnlyInRight => DifferenceKind.OnlyInLeft,
                _ => k,
            };
            return SchemaDiff.Compare(a, a).Equal
                && forward.Count == backward.Count
                && forward.Select(d => (Flip(d.Kind), d.ObjectKind, d.Property)).Order().SequenceEqual(backward.Select(d => (d.Kind, d.ObjectKind, d.Property)).Order())
                && SchemaDiff.Compare(a, SchemaJson.Deserialize(SchemaJson.Serialize(a))).Equal;
        }).QuickCheckThrowOnFailure();
    }

    private static DatabaseSchema RandomSchema(int seed)
    {
        var random = new Random(seed);
        string Pick(params string[] options) => options[random.Next(options.Length)];
        var tables = Enumerable.Range(0, random.Next(1, 4)).Select(i =>
        {
            var columns = Enumerable.Range(0, random.Next(1, 5)).Select(j => C($"c{j}", Pick("integer", "text", "numeric(10,2)"), (TypeFamily)random.Next(0, 12)) with
            {
                Nullable = random.Next(2) == 0,
                Default = random.Next(3) == 0 ? Pick("0", "'x'", "now()") : null,
            }).ToList();
            return T($"t{i}", [.. columns]) with
            {
                PrimaryKey = random.Next(2) == 0 ? new PrimaryKeyInfo("pk", [columns[0].Name]) : null,
                Indexes = random.Next(2) == 0 ? [new IndexInfo { Name = "ix" + i, Columns = [new IndexColumnInfo(columns[^1].Name, null, random.Next(2) == 0)] }] : [],
                CheckConstraints = random.Next(3) == 0 ? [new CheckConstraintInfo(null, Pick("c0 > 0", "c0 IS NOT NULL"))] : [],
            };
        }).ToArray();
        return Db("postgresql", tables);
    }
}
