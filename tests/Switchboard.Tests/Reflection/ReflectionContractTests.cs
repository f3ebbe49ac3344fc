using Dapper;
using Switchboard.Reflection;

namespace Switchboard.Tests.Reflection;

/// <summary>
/// What reflection must get right on every dialect, against a real database holding the "shop" schema each dialect
/// writes in its own DDL: composite and self-referencing foreign keys with ON DELETE/UPDATE actions, named unique and
/// check constraints, generated columns, auto-generated keys, a descending index, a view, identifiers with spaces,
/// quotes, mixed case, non-ASCII letters and reserved words, and a hostile table name. Dialect-specific features are
/// asserted in the derived classes.
/// </summary>
public abstract class ReflectionContractTests
{
    /// <summary>A table name that breaks any SQL built by concatenation, whichever quote character it uses.</summary>
    public const string Hostile = "evil\"`'; drop table victim; --";

    public const string HostileColumn = "\"; drop table victim; --";

    public const string HostileIndex = "ix\"; drop table victim; --";

    public const string Weird = "Mixed Case \"Quoted\" Ünïcödé";

    protected abstract string DialectName { get; }

    /// <summary>Whether <c>order_items.line_total</c> is a virtual (not stored) generated column on this dialect.</summary>
    protected abstract bool VirtualGeneratedColumns { get; }

    /// <summary>A URL for a fresh, empty database.</summary>
    protected abstract Task<string> NewDatabaseUrlAsync();

    /// <summary>The statements creating the shop schema.</summary>
    protected abstract IEnumerable<string> ShopSchema { get; }

    /// <summary>Quotes an identifier the dialect's way.</summary>
    protected abstract string Quote(string identifier);

    /// <summary>A table with 10 columns, an index and a foreign key to <c>customers</c> (to show the query count is fixed).</summary>
    protected virtual string ExtraTable(string name) =>
        $"CREATE TABLE {Quote(name)} (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id), " +
        string.Join(", ", Enumerable.Range(1, 8).Select(i => $"c{i} VARCHAR(20)")) + ")";

    protected async Task<SwitchboardCatalog> ShopAsync()
    {
        var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("shop", await NewDatabaseUrlAsync()).Build();
        await ExecuteAsync(catalog, ShopSchema);
        return catalog;
    }

    protected static async Task ExecuteAsync(SwitchboardCatalog catalog, IEnumerable<string> statements)
    {
        await using var connection = await catalog.GetEngine("shop").OpenConnectionAsync();
        foreach (var statement in statements)
        {
            await connection.ExecuteAsync(statement);
        }
    }

    protected static DatabaseSchema Reflect(SwitchboardCatalog catalog, bool async, ReflectionOptions? options = null) => async
        ? catalog.GetEngine("shop").ReflectAsync(options).AsTask().GetAwaiter().GetResult()
        : catalog.GetEngine("shop").Reflect(options);

    protected static TableInfo Table(DatabaseSchema schema, string name) =>
        Assert.Single(schema.Schemas.SelectMany(s => s.Tables), t => t.Name == name);

    protected static ColumnInfo Column(DatabaseSchema schema, string table, string column) =>
        Assert.Single(Table(schema, table).Columns, c => c.Name == column);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Tables_views_and_columns_are_reflected_in_ordinal_order(bool async)
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async);
        Assert.Equal("shop", schema.Database);
        Assert.Equal(DialectName, schema.Dialect);
        Assert.False(string.IsNullOrEmpty(schema.ServerVersion));
        var tables = schema.Schemas.SelectMany(s => s.Tables).Select(t => t.Name).ToList();
        Assert.Superset(new HashSet<string> { "customers", "orders", "order_items", "shipments", "victim", Weird, Hostile }, tables.ToHashSet());
        Assert.Equal(tables.Order(StringComparer.Ordinal), tables);
        Assert.Equal(["id", "email", "Display Name", "balance", "referrer_id", "created_at"], Table(schema, "customers").Columns.Select(c => c.Name));

        var view = Assert.Single(schema.Schemas.SelectMany(s => s.Views), v => v.Name == "big_orders");
        Assert.False(view.Materialized);
        Assert.Equal(["id", "customer_id", "total"], view.Columns.Select(c => c.Name));
        Assert.Contains("total", view.Definition, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("100", view.Definition, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Synchronous_and_asynchronous_reflection_give_the_same_model()
    {
        await using var catalog = await ShopAsync();
        Assert.Equal(SchemaJson.Serialize(Reflect(catalog, async: false)), SchemaJson.Serialize(Reflect(catalog, async: true)));
    }

    [Fact]
    public async Task Types_are_kept_as_declared_and_classified_into_families()
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async: true);
        var email = Column(schema, "customers", "email");
        Assert.Equal((TypeFamily.String, 200, false), (email.TypeFamily, email.Length, email.Nullable));
        Assert.Contains("200", email.Type, StringComparison.Ordinal);
        var balance = Column(schema, "customers", "balance");
        Assert.Equal((TypeFamily.Decimal, 10, 2), (balance.TypeFamily, balance.Precision, balance.Scale));
        Assert.Equal("0", SchemaComparerProbe.Default(balance.Default, TypeFamily.Decimal));
        Assert.Equal(TypeFamily.Timestamp, Column(schema, "customers", "created_at").TypeFamily);
        Assert.Equal("current_timestamp", SchemaComparerProbe.Default(Column(schema, "customers", "created_at").Default, TypeFamily.Timestamp));
        Assert.Equal(TypeFamily.Integer, Column(schema, "order_items", "qty").TypeFamily);
        Assert.Equal(TypeFamily.Boolean, Column(schema, Weird, "MixedCase").TypeFamily);
        Assert.True(Column(schema, "customers", "Display Name").Nullable);
        Assert.NotNull(Column(schema, "customers", "Display Name").Collation);
    }

    [Fact]
    public async Task Primary_and_foreign_keys_including_composite_and_self_referencing_ones()
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async: true);
        Assert.Equal(["order_id", "line_no"], Table(schema, "order_items").PrimaryKey!.Columns);
        Assert.Equal(["id"], Table(schema, "customers").PrimaryKey!.Columns);
        Assert.Null(Table(schema, Hostile).PrimaryKey);

        var self = Assert.Single(Table(schema, "customers").ForeignKeys);
        Assert.Equal(("fk_customers_referrer", "customers", "SET NULL"), (self.Name, self.ReferencedTable, self.OnDelete));
        Assert.Equal(["referrer_id"], self.Columns);
        Assert.Equal(["id"], self.ReferencedColumns);

        var orders = Assert.Single(Table(schema, "orders").ForeignKeys);
        Assert.Equal(("fk_orders_customer", "CASCADE", "RESTRICT"), (orders.Name, orders.OnDelete, orders.OnUpdate));

        var composite = Assert.Single(Table(schema, "shipments").ForeignKeys);
        Assert.Equal("fk_shipments_item", composite.Name);
        Assert.Equal(["order_id", "line_no"], composite.Columns);
        Assert.Equal("order_items", composite.ReferencedTable);
        Assert.Equal(["order_id", "line_no"], composite.ReferencedColumns);
        Assert.Equal("CASCADE", composite.OnUpdate);
        Assert.Equal("NO ACTION", NoActionOrRestrict(composite.OnDelete));
    }

    /// <summary>MySQL and MariaDB report an unspecified action as RESTRICT, which they treat exactly like NO ACTION.</summary>
    protected virtual string NoActionOrRestrict(string action) => action;

    [Fact]
    public async Task Unique_and_check_constraints_keep_their_names()
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async: true);
        var email = Assert.Single(Table(schema, "customers").UniqueConstraints);
        Assert.Equal(("uq_customers_email", "email"), (email.Name, Assert.Single(email.Columns)));
        var sku = Assert.Single(Table(schema, "order_items").UniqueConstraints);
        Assert.Equal("uq_items_sku", sku.Name);
        Assert.Equal(["order_id", "sku"], sku.Columns);

        var balance = Assert.Single(Table(schema, "customers").CheckConstraints, c => c.Name == "ck_customers_balance");
        Assert.Contains("balance", balance.Expression, StringComparison.Ordinal);
        Assert.Contains(">=", balance.Expression, StringComparison.Ordinal);
        var qty = Assert.Single(Table(schema, "order_items").CheckConstraints, c => c.Name == "ck_items_qty");
        Assert.Equal("qty>0", SchemaComparerProbe.Expression(qty.Expression));
    }

    [Fact]
    public async Task Generated_columns_and_generated_keys()
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async: true);
        var tax = Column(schema, "orders", "tax").Generated;
        Assert.NotNull(tax);
        Assert.True(tax.Stored);
        Assert.Equal("total*0.2", SchemaComparerProbe.Expression(tax.Expression));
        var lineTotal = Column(schema, "order_items", "line_total").Generated;
        Assert.NotNull(lineTotal);
        Assert.Equal(!VirtualGeneratedColumns, lineTotal.Stored);
        Assert.Equal("qty*unit_price", SchemaComparerProbe.Expression(lineTotal.Expression));
        Assert.Null(Column(schema, "orders", "tax").Default);

        foreach (var (table, column) in new[] { ("customers", "id"), ("orders", "id"), ("shipments", "id") })
        {
            var c = Column(schema, table, column);
            Assert.True(c.AutoIncrement || c.Identity is not null, $"{table}.{column} should generate values");
        }

        Assert.False(Column(schema, "order_items", "line_no").AutoIncrement);
        Assert.Null(Column(schema, "order_items", "line_no").Identity);
    }

    [Fact]
    public async Task Indexes_keep_sort_order_and_constraint_indexes_are_listed_only_on_request()
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async: true);
        var index = Assert.Single(Table(schema, "orders").Indexes, i => i.Name == "ix_orders_customer_total");
        Assert.False(index.Unique);
        Assert.Equal([new IndexColumnInfo("customer_id", null, false), new IndexColumnInfo("total", null, true)], index.Columns);
        Assert.DoesNotContain(schema.AllTables.SelectMany(t => t.Indexes), i => i.BacksConstraint);

        var all = Reflect(catalog, async: true, new ReflectionOptions { IncludeConstraintIndexes = true });
        var backing = Table(all, "order_items").Indexes.Where(i => i.BacksConstraint).ToList();
        Assert.Contains(backing, i => i.Unique && i.Columns.Select(c => c.Name).SequenceEqual(["order_id", "sku"]));
        Assert.Contains(backing, i => i.Unique && i.Columns.Select(c => c.Name).SequenceEqual(["order_id", "line_no"]));
    }

    [Fact]
    public async Task Odd_identifiers_come_back_exactly()
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async: true);
        Assert.Equal(["order", "Größe", "it's", "MixedCase"], Table(schema, Weird).Columns.Select(c => c.Name));
        Assert.Equal(["order"], Table(schema, Weird).PrimaryKey!.Columns);
        Assert.Equal(TypeFamily.String, Column(schema, "orders", "select").TypeFamily);
        Assert.Equal(5, Column(schema, Weird, "Größe").Length);

        // Asking for odd names by name works too: they travel as parameters.
        var only = Reflect(catalog, async: false, new ReflectionOptions { Tables = [Weird, "customers"] });
        Assert.Equal(new[] { "customers", Weird }.Order(StringComparer.Ordinal), only.AllTables.Select(t => t.Name));
    }

    [Fact]
    public async Task A_hostile_table_name_is_reflected_and_harms_nothing()
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async: true, new ReflectionOptions { Tables = [Hostile, "victim"], IncludeConstraintIndexes = true });
        var hostile = Table(schema, Hostile);
        Assert.Equal([HostileColumn, "x"], hostile.Columns.Select(c => c.Name));
        Assert.Equal(HostileIndex, Assert.Single(hostile.Indexes).Name);
        Reflect(catalog, async: false);

        await using var session = catalog.OpenSession("shop");
        Assert.Equal(0L, await session.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {Quote("victim")}"));
        Assert.Equal(0L, await session.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {Quote(Hostile)}"));
    }

    [Fact]
    public async Task The_number_of_queries_does_not_grow_with_the_number_of_tables()
    {
        await using var catalog = await ShopAsync();
        var before = Reflect(catalog, async: true);
        await ExecuteAsync(catalog, Enumerable.Range(1, 40).SelectMany(i => new[]
        {
            ExtraTable($"extra_{i:00}"),
            $"CREATE INDEX {Quote($"ix_extra_{i:00}")} ON {Quote($"extra_{i:00}")} (c1, c2)",
        }));
        var after = Reflect(catalog, async: true);
        Assert.Equal(before.AllTables.Count() + 40, after.AllTables.Count());
        Assert.Equal(10, Table(after, "extra_07").Columns.Count);
        Assert.Single(Table(after, "extra_07").ForeignKeys);
        Assert.NotNull(before.Statistics);
        Assert.InRange(before.Statistics.QueryCount, 3, 8);
        Assert.Equal(before.Statistics.QueryCount, after.Statistics!.QueryCount);
    }

    [Fact]
    public async Task Unknown_tables_and_schemas_are_named_in_a_typed_error()
    {
        await using var catalog = await ShopAsync();
        var table = Assert.Throws<SchemaObjectNotFoundException>(() => Reflect(catalog, async: false, new ReflectionOptions { Tables = ["custmers"] }));
        Assert.Equal("shop", table.DatabaseName);
        Assert.Contains("'custmers'", table.Message, StringComparison.Ordinal);
        Assert.Contains("did you mean 'customers'", table.Message, StringComparison.Ordinal);
        Assert.Equal(["custmers"], table.Missing);

        var schema = await Assert.ThrowsAsync<SchemaObjectNotFoundException>(() =>
            catalog.GetEngine("shop").ReflectAsync(new ReflectionOptions { Schema = "no_such_schema" }).AsTask());
        Assert.Contains("'no_such_schema'", schema.Message, StringComparison.Ordinal);
        Assert.Contains("'shop'", schema.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_json_form_reads_back_into_the_same_model()
    {
        await using var catalog = await ShopAsync();
        var json = SchemaJson.Serialize(Reflect(catalog, async: true));
        var back = SchemaJson.Deserialize(json);
        Assert.Equal(json, SchemaJson.Serialize(back));
        Assert.Contains("\"Mixed Case \\\"Quoted\\\" Ünïcödé\"", json, StringComparison.Ordinal); // non-ASCII stays readable
        Assert.True(SchemaDiff.Compare(back, Reflect(catalog, async: false)).Equal);
    }

    [Fact]
    public async Task The_inspector_caches_until_cleared()
    {
        await using var catalog = await ShopAsync();
        var inspector = catalog.GetEngine("shop").CreateInspector();
        Assert.Contains("customers", inspector.GetTableNames());
        Assert.Equal(["id"], (await inspector.GetTableAsync("customers")).PrimaryKey!.Columns);
        await ExecuteAsync(catalog, [$"CREATE TABLE {Quote("late_arrival")} (id INTEGER PRIMARY KEY)"]);
        Assert.DoesNotContain("late_arrival", await inspector.GetTableNamesAsync());
        inspector.ClearCache();
        Assert.Contains("late_arrival", inspector.GetTableNames());
        Assert.Equal("late_arrival", inspector.GetTable("late_arrival").Name);
        Assert.Throws<SchemaObjectNotFoundException>(() => inspector.GetTable("never_created"));
    }

    [Fact]
    public async Task A_database_equals_itself_and_a_change_shows_up_as_exactly_that_change()
    {
        await using var catalog = await ShopAsync();
        var before = Reflect(catalog, async: true);
        Assert.True(SchemaDiff.Compare(before, before).Equal);
        await ExecuteAsync(catalog, [
            $"ALTER TABLE {Quote("orders")} ADD COLUMN {Quote("coupon")} VARCHAR(12)",
            $"CREATE TABLE {Quote("audit")} (id INTEGER PRIMARY KEY)",
        ]);
        var diff = SchemaDiff.Compare(before, Reflect(catalog, async: true));
        Assert.False(diff.Equal);
        Assert.Equal(
            [(DifferenceKind.OnlyInRight, SchemaObjectKind.Table, "audit", (string?)null), (DifferenceKind.OnlyInRight, SchemaObjectKind.Column, "coupon", null)],
            diff.Differences.Select(d => (d.Kind, d.ObjectKind, d.Name, d.Property)).OrderBy(d => d.Name, StringComparer.Ordinal));
    }
}

/// <summary>The comparer's normalisations, for asserting expressions without caring how each server spells them.</summary>
internal static class SchemaComparerProbe
{
    public static string Expression(string expression) => SchemaComparer.NormalizeExpression(expression);

    public static string? Default(string? value, TypeFamily family) => SchemaComparer.NormalizeDefault(value, family);
}
