using MySql.Data.MySqlClient;
using Switchboard.Reflection;
using Switchboard.Tests.Reflection;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.MySql;

[Collection(ServersCollection.Name)]
public sealed class MySqlReflectionTests(DatabaseServers servers) : ReflectionContractTests
{
    protected override string DialectName => "mysql";

    protected override bool VirtualGeneratedColumns => true;

    protected override async Task<string> NewDatabaseUrlAsync() => servers.MyUrl(await servers.CreateMyDatabaseAsync("reflect"));

    protected override string Quote(string identifier) => "`" + identifier.Replace("`", "``", StringComparison.Ordinal) + "`";

    protected override string NoActionOrRestrict(string action) => action == "RESTRICT" ? "NO ACTION" : action;

    // MySQL ignores column-level REFERENCES: foreign keys must be table constraints.
    protected override string ExtraTable(string name) =>
        $"CREATE TABLE {Quote(name)} (id INTEGER PRIMARY KEY, customer_id INTEGER, " +
        string.Join(", ", Enumerable.Range(1, 8).Select(i => $"c{i} VARCHAR(20)")) + ", FOREIGN KEY (customer_id) REFERENCES customers (id))";

    protected override IEnumerable<string> ShopSchema =>
    [
        """
        CREATE TABLE customers (
          id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
          email varchar(200) NOT NULL,
          `Display Name` varchar(100) COLLATE utf8mb4_bin COMMENT 'shown to staff',
          balance decimal(10,2) NOT NULL DEFAULT 0,
          referrer_id int NULL,
          created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
          CONSTRAINT uq_customers_email UNIQUE (email),
          CONSTRAINT ck_customers_balance CHECK (balance >= 0),
          CONSTRAINT fk_customers_referrer FOREIGN KEY (referrer_id) REFERENCES customers (id) ON DELETE SET NULL
        ) COMMENT 'people who buy'
        """,
        """
        CREATE TABLE orders (
          id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
          customer_id int NOT NULL,
          `select` varchar(10),
          status enum('new', 'paid', 'shipped') NOT NULL DEFAULT 'new',
          total decimal(12,2) NOT NULL,
          tax decimal(12,2) AS (total * 0.2) STORED,
          note text,
          is_gift tinyint(1) NOT NULL DEFAULT 0,
          attributes json,
          CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE ON UPDATE RESTRICT,
          INDEX ix_orders_customer_total (customer_id, total DESC)
        )
        """,
        """
        CREATE TABLE order_items (
          order_id bigint NOT NULL,
          line_no int NOT NULL,
          sku varchar(40) NOT NULL,
          qty int NOT NULL,
          unit_price decimal(12,2) NOT NULL,
          line_total decimal(14,2) AS (qty * unit_price) VIRTUAL,
          PRIMARY KEY (order_id, line_no),
          CONSTRAINT uq_items_sku UNIQUE (order_id, sku),
          CONSTRAINT ck_items_qty CHECK (qty > 0),
          CONSTRAINT fk_items_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE
        )
        """,
        """
        CREATE TABLE shipments (
          id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
          order_id bigint NOT NULL,
          line_no int NOT NULL,
          CONSTRAINT fk_shipments_item FOREIGN KEY (order_id, line_no) REFERENCES order_items (order_id, line_no) ON UPDATE CASCADE
        )
        """,
        $"CREATE TABLE {Quote(Weird)} (`order` int PRIMARY KEY, `Größe` varchar(5), `it's` text, `MixedCase` boolean DEFAULT true)",
        "CREATE TABLE victim (id int PRIMARY KEY)",
        $"CREATE TABLE {Quote(Hostile)} ({Quote(HostileColumn)} int, x int)",
        $"CREATE INDEX {Quote(HostileIndex)} ON {Quote(Hostile)} (x)",
        "CREATE VIEW big_orders AS SELECT id, customer_id, total FROM orders WHERE total > 100",
    ];

    [Fact]
    public async Task Declared_types_booleans_enums_and_json_read_as_MariaDB_states_them()
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async: true);
        Assert.Equal("int(11)", Column(schema, "customers", "id").Type);
        Assert.Equal("bigint(20)", Column(schema, "orders", "id").Type);
        Assert.Equal("decimal(10,2)", Column(schema, "customers", "balance").Type);
        Assert.Equal("varchar(200)", Column(schema, "customers", "email").Type);
        Assert.Equal(("tinyint(1)", TypeFamily.Boolean), (Column(schema, "orders", "is_gift").Type, Column(schema, "orders", "is_gift").TypeFamily));
        var status = Column(schema, "orders", "status");
        Assert.Equal(("enum('new','paid','shipped')", TypeFamily.String, "'new'"), (status.Type, status.TypeFamily, status.Default));

        // MariaDB's JSON is LONGTEXT with a json_valid check: reported as a json column, without the check.
        var attributes = Column(schema, "orders", "attributes");
        Assert.Equal(("longtext", TypeFamily.Json), (attributes.Type, attributes.TypeFamily));
        Assert.Empty(Table(schema, "orders").CheckConstraints);
        Assert.Equal("utf8mb4_bin", Column(schema, "customers", "Display Name").Collation);
    }

    [Fact]
    public async Task Comments_auto_increment_foreign_key_indexes_and_the_unnamed_primary_key()
    {
        await using var catalog = await ShopAsync();
        var schema = Reflect(catalog, async: false);
        Assert.Equal("people who buy", Table(schema, "customers").Comment);
        Assert.Equal("shown to staff", Column(schema, "customers", "Display Name").Comment);
        Assert.True(Column(schema, "orders", "id").AutoIncrement);
        Assert.Null(Column(schema, "orders", "id").Identity);
        Assert.Null(Table(schema, "customers").PrimaryKey!.Name); // MySQL calls every primary key PRIMARY

        // MariaDB adds an index for a foreign key that has none: a real index, listed as such.
        var fkIndex = Assert.Single(Table(schema, "shipments").Indexes);
        Assert.Equal(("fk_shipments_item", false, false), (fkIndex.Name, fkIndex.Unique, fkIndex.BacksConstraint));
        Assert.Equal(["order_id", "line_no"], fkIndex.Columns.Select(c => c.Name));

        var database = catalog.GetDefinition("shop").Connection.Database;
        Assert.Equal(database, schema.DefaultSchema);
        Assert.Equal(database, Assert.Single(schema.Schemas).Name);
        Assert.Equal(database, Assert.Single(Table(schema, "orders").ForeignKeys).ReferencedSchema);
    }

    [Fact]
    public async Task On_update_current_timestamp_is_reflected_shown_and_compared()
    {
        var stamped = await servers.CreateMyDatabaseAsync("onupd");
        var plain = await servers.CreateMyDatabaseAsync("onupd");
        await using (var admin = new MySqlConnection(servers.MyAdminConnectionString(stamped)))
        {
            await admin.OpenAsync();
            await new MySqlCommand("CREATE TABLE t (id int PRIMARY KEY, changed timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp())", admin).ExecuteNonQueryAsync();
        }

        await using (var admin = new MySqlConnection(servers.MyAdminConnectionString(plain)))
        {
            await admin.OpenAsync();
            await new MySqlCommand("CREATE TABLE t (id int PRIMARY KEY, changed timestamp NOT NULL DEFAULT current_timestamp())", admin).ExecuteNonQueryAsync();
        }

        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("stamped", servers.MyUrl(stamped))
            .AddDatabase("plain", servers.MyUrl(plain))
            .Build();
        var left = await catalog.GetEngine("stamped").ReflectAsync();
        var right = await catalog.GetEngine("plain").ReflectAsync();
        Assert.Equal("current_timestamp()", Column(left, "t", "changed").OnUpdate);
        Assert.Null(Column(right, "t", "changed").OnUpdate);
        Assert.Null(Column(left, "t", "id").OnUpdate);

        var difference = Assert.Single(SchemaDiff.Compare(left, right).Differences);
        Assert.Equal("onUpdate", difference.Property);
        Assert.Empty(SchemaDiff.Compare(left, left).Differences);
        Assert.Equal("current_timestamp()", Column(SchemaJson.Deserialize(SchemaJson.Serialize(left)), "t", "changed").OnUpdate);
    }

    [Fact]
    public async Task Another_database_on_the_server_is_reflected_when_asked_for_by_name()
    {
        await using var catalog = await ShopAsync();
        var other = await servers.CreateMyDatabaseAsync("other");
        await using (var connection = new MySqlConnection(servers.MyAdminConnectionString(other)))
        {
            await connection.OpenAsync();
            await using var command = new MySqlCommand("CREATE TABLE archived (id int PRIMARY KEY, note varchar(30))", connection);
            await command.ExecuteNonQueryAsync();
        }

        var schema = Reflect(catalog, async: true, new ReflectionOptions { Schema = other });
        var only = Assert.Single(schema.Schemas);
        Assert.Equal((other, "archived"), (only.Name, Assert.Single(only.Tables).Name));
        Assert.DoesNotContain(Reflect(catalog, async: false).AllTables, t => t.Name == "archived");
    }
}
