using Switchboard.Reflection;
using Switchboard.Tests.Reflection;

namespace Switchboard.Tests.Sqlite;

public sealed class SqliteReflectionTests : ReflectionContractTests, IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "switchboard-reflect-" + Guid.NewGuid().ToString("N")[..8]);

    protected override string DialectName => "sqlite";

    protected override bool VirtualGeneratedColumns => true;

    protected override Task<string> NewDatabaseUrlAsync() => Task.FromResult($"sqlite:///{_folder}/{Guid.NewGuid():N}.db");

    protected override string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    protected override IEnumerable<string> ShopSchema =>
    [
        """
        CREATE TABLE customers (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          email VARCHAR(200) NOT NULL CONSTRAINT uq_customers_email UNIQUE,
          "Display Name" VARCHAR(100) COLLATE NOCASE, -- a comment, ignored
          balance DECIMAL(10,2) NOT NULL DEFAULT 0 CONSTRAINT ck_customers_balance CHECK (balance >= 0),
          referrer_id INTEGER CONSTRAINT fk_customers_referrer REFERENCES customers (id) ON DELETE SET NULL,
          created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)
        """,
        """
        CREATE TABLE orders (
          id INTEGER PRIMARY KEY,
          customer_id INTEGER NOT NULL CONSTRAINT fk_orders_customer REFERENCES customers (id) ON DELETE CASCADE ON UPDATE RESTRICT,
          "select" VARCHAR(10),
          status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'paid', 'shipped')),
          total DECIMAL(12, 2) NOT NULL,
          tax DECIMAL(12,2) GENERATED ALWAYS AS (total * 0.2) STORED,
          note TEXT)
        """,
        "CREATE INDEX ix_orders_customer_total ON orders (customer_id, total DESC)",
        "CREATE INDEX ix_orders_big ON orders (customer_id) WHERE total > 100",
        "CREATE UNIQUE INDEX ix_orders_note_lower ON orders (lower(note) COLLATE NOCASE)",
        """
        CREATE TABLE order_items (
          order_id INTEGER NOT NULL CONSTRAINT fk_items_order REFERENCES orders (id) ON DELETE CASCADE,
          line_no INTEGER NOT NULL,
          sku VARCHAR(40) NOT NULL,
          qty INTEGER NOT NULL CONSTRAINT ck_items_qty CHECK (qty > 0),
          unit_price DECIMAL(12,2) NOT NULL,
          line_total DECIMAL(14,2) AS (qty * unit_price) VIRTUAL,
          CONSTRAINT pk_order_items PRIMARY KEY (order_id, line_no),
          CONSTRAINT uq_items_sku UNIQUE (order_id, sku))
        """,
        """
        CREATE TABLE shipments (
          id INTEGER PRIMARY KEY,
          order_id INTEGER NOT NULL,
          line_no INTEGER NOT NULL,
          CONSTRAINT fk_shipments_item FOREIGN KEY (order_id, line_no) REFERENCES order_items (order_id, line_no)
            ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED)
        """,
        $"CREATE TABLE {Quote(Weird)} (\"order\" INTEGER PRIMARY KEY, [Größe] VARCHAR(5), `it's` TEXT, \"MixedCase\" BOOLEAN DEFAULT 1)",
        "CREATE TABLE victim (id INTEGER PRIMARY KEY)",
        $"CREATE TABLE {Quote(Hostile)} ({Quote(HostileColumn)} INTEGER, x INTEGER)",
        $"CREATE INDEX {Quote(HostileIndex)} ON {Quote(Hostile)} (x)",
        "CREATE VIEW big_orders AS SELECT id, customer_id, total FROM orders WHERE total > 100",
        "CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID",
        "CREATE TABLE notes (id INT PRIMARY KEY, order_id INTEGER REFERENCES orders, body)",
    ];

    [Fact]
    public async Task Rowid_aliases_autoincrement_and_other_primary_keys_are_told_apart()
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async: true);
        var customers = Column(schema, "customers", "id");
        Assert.Equal((true, false, "INTEGER"), (customers.AutoIncrement, customers.Nullable, customers.Type));
        Assert.True(Column(schema, "orders", "id").AutoIncrement); // INTEGER PRIMARY KEY without AUTOINCREMENT is still the rowid
        Assert.False(Column(schema, "notes", "id").AutoIncrement); // INT is not INTEGER: not a rowid alias
        Assert.False(Column(schema, "kv", "k").AutoIncrement);
        Assert.Equal(["k"], Table(schema, "kv").PrimaryKey!.Columns);
        Assert.Equal(("", TypeFamily.Other), (Column(schema, "notes", "body").Type, Column(schema, "notes", "body").TypeFamily));
    }

    [Fact]
    public async Task What_the_pragmas_do_not_say_is_read_from_the_stored_ddl()
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async: false);
        var orders = Table(schema, "orders");
        Assert.Equal(new CheckConstraintInfo(null, "status IN ('new', 'paid', 'shipped')"), Assert.Single(orders.CheckConstraints));
        Assert.Equal("total > 100", Assert.Single(orders.Indexes, i => i.Name == "ix_orders_big").Predicate);
        var lower = Assert.Single(orders.Indexes, i => i.Name == "ix_orders_note_lower");
        Assert.Equal(new IndexColumnInfo(null, "lower(note)", false), Assert.Single(lower.Columns));
        Assert.True(lower.Unique);
        Assert.Equal(new GeneratedColumnInfo("total * 0.2", true), Column(schema, "orders", "tax").Generated);
        Assert.Equal("NOCASE", Column(schema, "customers", "Display Name").Collation);
        Assert.Equal("pk_order_items", Table(schema, "order_items").PrimaryKey!.Name);
        Assert.Null(Table(schema, "orders").PrimaryKey!.Name);
        Assert.Equal(("DECIMAL(12, 2)", 12, 2), (Column(schema, "orders", "total").Type, Column(schema, "orders", "total").Precision, Column(schema, "orders", "total").Scale));

        var deferred = Assert.Single(Table(schema, "shipments").ForeignKeys);
        Assert.True(deferred.Deferrable && deferred.InitiallyDeferred);
        Assert.Equal("main", deferred.ReferencedSchema);
        Assert.False(Assert.Single(Table(schema, "customers").ForeignKeys).Deferrable);

        // REFERENCES orders without a column list points at the primary key.
        var implicitKey = Assert.Single(Table(schema, "notes").ForeignKeys);
        Assert.Equal((null, "orders", "id"), (implicitKey.Name, implicitKey.ReferencedTable, Assert.Single(implicitKey.ReferencedColumns)));

        Assert.Equal("SELECT id, customer_id, total FROM orders WHERE total > 100", Assert.Single(Assert.Single(schema.Schemas).Views).Definition);
        Assert.Equal(("main", "main"), (schema.DefaultSchema, Assert.Single(schema.Schemas).Name));
    }

    [Fact]
    public async Task A_view_whose_table_was_dropped_does_not_stop_reflection()
    {
        await using var catalog = await ShopAsync();
        await ExecuteAsync(catalog, ["CREATE TABLE doomed (id INTEGER PRIMARY KEY)", "CREATE VIEW orphan AS SELECT id FROM doomed", "DROP TABLE doomed"]);
        var schema = Reflect(catalog, async: false);
        var orphan = Assert.Single(Assert.Single(schema.Schemas).Views, v => v.Name == "orphan");
        Assert.Empty(orphan.Columns);
        Assert.Equal("SELECT id FROM doomed", orphan.Definition);
        Assert.Equal(["id", "customer_id", "total"], Assert.Single(schema.Schemas[0].Views, v => v.Name == "big_orders").Columns.Select(c => c.Name));
        Assert.Equal(6, Table(schema, "customers").Columns.Count);
    }

    [Fact]
    public async Task A_failing_reflection_query_is_a_typed_error_naming_the_database_and_a_dialect_without_reflection_says_so()
    {
        var file = "Data Source=" + Path.Combine(_folder, "wrapped.db");
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDialect(new WrappedSqliteDialect("sqlite-bad-query", reflects: true))
            .AddDialect(new WrappedSqliteDialect("sqlite-no-reflection", reflects: false))
            .AddDatabase("bad", "sqlite-bad-query", file)
            .AddDatabase("none", "sqlite-no-reflection", file)
            .Build();
        var error = await Assert.ThrowsAsync<DatabaseCommandException>(() => catalog.GetEngine("bad").ReflectAsync().AsTask());
        Assert.Equal(("bad", DatabaseErrorKind.UndefinedObject), (error.DatabaseName, error.Kind));
        Assert.StartsWith("Schema reflection failed on database 'bad'", error.Message, StringComparison.Ordinal);
        Assert.IsType<Microsoft.Data.Sqlite.SqliteException>(error.InnerException);

        var unsupported = Assert.Throws<NotSupportedException>(() => catalog.GetEngine("none").Reflect());
        Assert.Contains("'none'", unsupported.Message, StringComparison.Ordinal);
    }

    /// <summary>The real SQLite dialect under another name, whose reflection runs a query that fails on the real database (or is absent).</summary>
    private sealed class WrappedSqliteDialect(string name, bool reflects) : Switchboard.Dialects.Dialect
    {
        private readonly Switchboard.Sqlite.SqliteDialect _inner = new();

        public override string Name => name;

        public override IReadOnlyList<string> Aliases => [name];

        public override bool HasServer => false;

        public override bool SupportsReflection => reflects;

        public override Switchboard.Dialects.ConnectionSettings? CreateSettings(Switchboard.Dialects.ConnectionRequest request, ICollection<string> problems) =>
            _inner.CreateSettings(request, problems);

        public override System.Data.Common.DbDataSource CreateDataSource(DatabaseDefinition definition) => _inner.CreateDataSource(definition);

        public override DatabaseErrorKind Classify(Exception exception) => _inner.Classify(exception);

        public override async ValueTask<DatabaseSchema> ReflectAsync(ReflectionContext context)
        {
            await context.QueryAsync("SELECT * FROM no_such_catalog_table");
            throw new InvalidOperationException("unreachable");
        }
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
