using System.Text.Json;
using Switchboard.Reflection;

namespace Switchboard.Tests.Reflection;

/// <summary>The JSON form is a contract (docs/reflection.md): exact keys, in order, with every key present.</summary>
public sealed class SchemaJsonTests
{
    private static readonly DatabaseSchema Sample = new()
    {
        Database = "orders",
        Dialect = "postgresql",
        ServerVersion = "15.18",
        DefaultSchema = "public",
        Statistics = new ReflectionStatistics(7, TimeSpan.FromMilliseconds(12)),
        Schemas =
        [
            new SchemaInfo
            {
                Name = "public",
                Tables =
                [
                    new TableInfo
                    {
                        Name = "order",
                        Comment = "one per checkout",
                        Columns =
                        [
                            new ColumnInfo { Name = "id", Type = "bigint", TypeFamily = TypeFamily.Integer, Nullable = false, Identity = new IdentityInfo(true, 1, 1) },
                            new ColumnInfo { Name = "Größe", Type = "character varying(20)", TypeFamily = TypeFamily.String, Length = 20, Collation = "C", Comment = "size" },
                            new ColumnInfo { Name = "total", Type = "numeric(10,2)", TypeFamily = TypeFamily.Decimal, Precision = 10, Scale = 2, Default = "0" },
                            new ColumnInfo { Name = "tax", Type = "numeric(10,2)", TypeFamily = TypeFamily.Decimal, Generated = new GeneratedColumnInfo("(total * 0.2)", true) },
                        ],
                        PrimaryKey = new PrimaryKeyInfo("order_pkey", ["id"]),
                        ForeignKeys = [new ForeignKeyInfo { Name = "fk", Columns = ["id"], ReferencedSchema = "public", ReferencedTable = "x", ReferencedColumns = ["id"], OnDelete = "CASCADE" }],
                        UniqueConstraints = [new UniqueConstraintInfo("uq", ["Größe"])],
                        CheckConstraints = [new CheckConstraintInfo("ck", "(total >= 0)")],
                        Indexes = [new IndexInfo { Name = "ix", Columns = [new IndexColumnInfo(null, "lower(\"Größe\")", true)], Predicate = "(total > 0)" }],
                    },
                ],
                Views = [new ViewInfo { Name = "v", Materialized = true, Definition = "SELECT 1", Columns = [new ColumnInfo { Name = "x", Type = "integer", TypeFamily = TypeFamily.Integer }] }],
                Enums = [new EnumInfo("mood", ["sad", "happy"])],
                Domains = [new DomainInfo { Name = "amount", Type = "numeric(12,2)", TypeFamily = TypeFamily.Decimal, Precision = 12, Scale = 2, CheckConstraints = [new CheckConstraintInfo("positive", "(VALUE > 0)")] }],
            },
        ],
    };

    private static List<string> Keys(JsonElement element) => [.. element.EnumerateObject().Select(p => p.Name)];

    [Fact]
    public void Keys_are_camel_case_in_the_documented_order_and_always_present()
    {
        using var json = JsonDocument.Parse(SchemaJson.Serialize(Sample));
        var root = json.RootElement;
        Assert.Equal(["database", "dialect", "serverVersion", "defaultSchema", "schemas"], Keys(root));
        var schema = root.GetProperty("schemas")[0];
        Assert.Equal(["name", "tables", "views", "enums", "domains"], Keys(schema));
        var table = schema.GetProperty("tables")[0];
        Assert.Equal(["name", "comment", "columns", "primaryKey", "foreignKeys", "uniqueConstraints", "checkConstraints", "indexes"], Keys(table));
        var id = table.GetProperty("columns")[0];
        Assert.Equal(["name", "type", "typeFamily", "length", "precision", "scale", "nullable", "default", "onUpdate", "autoIncrement", "identity", "generated", "collation", "comment"], Keys(id));
        Assert.Equal("integer", id.GetProperty("typeFamily").GetString());
        Assert.Equal(JsonValueKind.Null, id.GetProperty("default").ValueKind);
        Assert.Equal(["always", "start", "increment"], Keys(id.GetProperty("identity")));
        Assert.Equal(["expression", "stored"], Keys(table.GetProperty("columns")[3].GetProperty("generated")));
        Assert.Equal(["name", "columns"], Keys(table.GetProperty("primaryKey")));
        Assert.Equal(["name", "columns", "referencedSchema", "referencedTable", "referencedColumns", "onDelete", "onUpdate", "deferrable", "initiallyDeferred"],
            Keys(table.GetProperty("foreignKeys")[0]));
        Assert.Equal(["name", "columns"], Keys(table.GetProperty("uniqueConstraints")[0]));
        Assert.Equal(["name", "expression"], Keys(table.GetProperty("checkConstraints")[0]));
        var index = table.GetProperty("indexes")[0];
        Assert.Equal(["name", "columns", "unique", "predicate", "backsConstraint"], Keys(index));
        Assert.Equal(["name", "expression", "descending"], Keys(index.GetProperty("columns")[0]));
        Assert.Equal(["name", "materialized", "definition", "columns", "comment"], Keys(schema.GetProperty("views")[0]));
        Assert.Equal(["name", "values"], Keys(schema.GetProperty("enums")[0]));
        Assert.Equal(["name", "type", "typeFamily", "length", "precision", "scale", "nullable", "default", "checkConstraints"], Keys(schema.GetProperty("domains")[0]));
    }

    [Fact]
    public void Statistics_stay_out_and_text_stays_readable()
    {
        var text = SchemaJson.Serialize(Sample);
        Assert.DoesNotContain("statistics", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("queryCount", text, StringComparison.Ordinal);
        Assert.Contains("\"Größe\"", text, StringComparison.Ordinal);
        Assert.Contains("lower(\\\"Größe\\\")", text, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', SchemaJson.Serialize(Sample, indented: false));
    }

    [Fact]
    public void A_serialised_schema_reads_back_equal()
    {
        var back = SchemaJson.Deserialize(SchemaJson.Serialize(Sample));
        Assert.Equal(SchemaJson.Serialize(Sample), SchemaJson.Serialize(back));
        Assert.True(SchemaDiff.Compare(Sample, back).Equal);
        Assert.Null(back.Statistics);
    }

    [Fact]
    public void Anything_else_is_rejected_with_a_json_error()
    {
        Assert.ThrowsAny<JsonException>(() => SchemaJson.Deserialize("[1, 2]"));
        Assert.ThrowsAny<JsonException>(() => SchemaJson.Deserialize("{\"dialect\": \"sqlite\"}")); // no database
        Assert.ThrowsAny<JsonException>(() => SchemaJson.Deserialize("null"));
    }

    [Fact]
    public void A_diff_serialises_with_its_sides_rules_and_differences()
    {
        var other = Sample with { Database = "orders_copy", Schemas = [Sample.Schemas[0] with { Enums = [] }] };
        using var json = JsonDocument.Parse(SchemaJson.Serialize(SchemaDiff.Compare(Sample, other)));
        var root = json.RootElement;
        Assert.Equal(["left", "right", "equal", "rules", "schemaPairs", "differences"], Keys(root));
        Assert.False(root.GetProperty("equal").GetBoolean());
        Assert.Equal(["types", "names", "constraintNames", "sameDialect"], Keys(root.GetProperty("rules")));
        Assert.Equal("exact", root.GetProperty("rules").GetProperty("types").GetString());
        var difference = Assert.Single(root.GetProperty("differences").EnumerateArray());
        Assert.Equal(["kind", "objectKind", "schema", "table", "name", "property", "left", "right", "message"], Keys(difference));
        Assert.Equal(("onlyInLeft", "enum", "mood"), (difference.GetProperty("kind").GetString(), difference.GetProperty("objectKind").GetString(), difference.GetProperty("name").GetString()));
    }
}
