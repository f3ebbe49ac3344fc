using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Switchboard.Cli;
using Switchboard.Reflection;
using Switchboard.Tests.Reflection;

namespace Switchboard.Tests.Sqlite;

/// <summary><c>switchboard schema</c> and <c>switchboard diff</c> on SQLite files: output, JSON, exit codes, errors.</summary>
public sealed class SqliteSchemaCliTests : IDisposable
{
    private const string Schema = """
        CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, "Display Name" TEXT);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
                             total DECIMAL(10,2) NOT NULL DEFAULT 0 CHECK (total >= 0));
        CREATE INDEX ix_orders_customer ON orders (customer_id);
        CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100;
        """;

    private readonly CliRunner _cli;

    public SqliteSchemaCliTests()
    {
        var folder = Path.Combine(Path.GetTempPath(), "switchboard-cli-db-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        Files = [Path.Combine(folder, "a.db"), Path.Combine(folder, "b.db")];
        foreach (var file in Files)
        {
            Execute(file, Schema);
        }

        _cli = new CliRunner(new Dictionary<string, string> { ["a"] = "sqlite:///" + Files[0], ["b"] = "sqlite:///" + Files[1] });
    }

    private string[] Files { get; }

    private static void Execute(string file, string sql)
    {
        using var connection = new SqliteConnection("Data Source=" + file);
        connection.Execute(sql);
    }

    [Fact]
    public async Task Schema_prints_a_tree_of_tables_columns_keys_and_indexes()
    {
        var (exit, output, error) = await _cli.RunAsync("schema", "a");
        Assert.Equal((SwitchboardCli.Ok, ""), (exit, error));
        foreach (var expected in new[]
        {
            "schema main", "table customers", "email VARCHAR(200) string not null", "Display Name TEXT string", "table orders",
            "foreign key (customer_id) → main.customers (id) on delete CASCADE", "unique (email)", "check total >= 0",
            "index ix_orders_customer (customer_id)", "view big_orders", "2 table(s), 1 view(s); 5 queries",
        })
        {
            Assert.Contains(expected, output, StringComparison.Ordinal);
        }

        Assert.Contains("id INTEGER PK not null auto-increment", output, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", output, StringComparison.Ordinal); // no colour codes when not writing to a terminal
    }

    [Fact]
    public async Task Schema_json_is_the_documented_form_and_filters_apply()
    {
        var (exit, output, _) = await _cli.RunAsync("schema", "a", "--json", "--table", "orders");
        Assert.Equal(SwitchboardCli.Ok, exit);
        var schema = SchemaJson.Deserialize(output);
        Assert.Equal(("a", "sqlite"), (schema.Database, schema.Dialect));
        Assert.Equal("orders", Assert.Single(schema.AllTables).Name);
        using var document = JsonDocument.Parse(output);
        Assert.Equal("decimal", document.RootElement.GetProperty("schemas")[0].GetProperty("tables")[0].GetProperty("columns")[2].GetProperty("typeFamily").GetString());

        var (_, withIndexes, _) = await _cli.RunAsync("schema", "a", "--json", "--table", "customers", "--constraint-indexes");
        Assert.Contains(Assert.Single(SchemaJson.Deserialize(withIndexes).AllTables).Indexes, i => i.BacksConstraint);
    }

    [Fact]
    public async Task Schema_errors_name_the_problem_and_exit_2()
    {
        var (exit, output, error) = await _cli.RunAsync("schema", "a", "--table", "ordres");
        Assert.Equal((SwitchboardCli.UsageError, ""), (exit, output));
        Assert.Contains("No table or view 'ordres' in database 'a'", error, StringComparison.Ordinal);
        Assert.Contains("did you mean 'orders'", error, StringComparison.Ordinal);

        (exit, _, error) = await _cli.RunAsync("schema", "nope");
        Assert.Equal(SwitchboardCli.UsageError, exit);
        Assert.Contains("No database named 'nope'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Diff_exits_0_when_equal_and_1_with_the_differences_when_not()
    {
        var (exit, output, _) = await _cli.RunAsync("diff", "a", "b");
        Assert.Equal(SwitchboardCli.Ok, exit);
        Assert.Contains("no differences", output, StringComparison.Ordinal);

        Execute(Files[1], "ALTER TABLE orders ADD COLUMN coupon TEXT; DROP INDEX ix_orders_customer; CREATE TABLE audit (id INTEGER PRIMARY KEY);");
        (exit, output, _) = await _cli.RunAsync("diff", "a", "b");
        Assert.Equal(SwitchboardCli.Failed, exit);
        Assert.Contains("+ table audit: only in b", output, StringComparison.Ordinal);
        Assert.Contains("+ column coupon: only in b", output, StringComparison.Ordinal);
        Assert.Contains("- index ix_orders_customer: only in a", output, StringComparison.Ordinal);
        Assert.Contains("3 differences", output, StringComparison.Ordinal);

        (exit, output, _) = await _cli.RunAsync("diff", "a", "b", "--json");
        Assert.Equal(SwitchboardCli.Failed, exit);
        using var json = JsonDocument.Parse(output);
        Assert.False(json.RootElement.GetProperty("equal").GetBoolean());
        Assert.Equal(new[] { "audit", "coupon", "ix_orders_customer" }, json.RootElement.GetProperty("differences").EnumerateArray().Select(d => d.GetProperty("name").GetString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Diff_compares_a_database_with_a_saved_snapshot()
    {
        var (_, snapshot, _) = await _cli.RunAsync("schema", "a", "--json");
        await File.WriteAllTextAsync(Path.Combine(_cli.Folder, "a-yesterday.json"), snapshot);
        Assert.Equal(SwitchboardCli.Ok, (await _cli.RunAsync("diff", "a-yesterday.json", "a")).Exit);

        Execute(Files[0], "ALTER TABLE customers ADD COLUMN phone VARCHAR(20)");
        var (exit, output, _) = await _cli.RunAsync("diff", "a-yesterday.json", "a");
        Assert.Equal(SwitchboardCli.Failed, exit);
        Assert.Contains("+ column phone: only in a", output, StringComparison.Ordinal);

        await File.WriteAllTextAsync(Path.Combine(_cli.Folder, "broken.json"), "{\"not\": \"a schema\"}");
        (exit, _, var error) = await _cli.RunAsync("diff", "broken.json", "a");
        Assert.Equal(SwitchboardCli.UsageError, exit);
        Assert.Contains("'broken.json' is not a schema written by 'switchboard schema --json'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Diff_options_are_validated()
    {
        var (exit, _, error) = await _cli.RunAsync("diff", "a", "b", "--exact-types", "--type-families");
        Assert.Equal(SwitchboardCli.UsageError, exit);
        Assert.Contains("not both", error, StringComparison.Ordinal);
        (exit, _, error) = await _cli.RunAsync("diff", "a", "b", "--match-names", "fuzzy");
        Assert.NotEqual(SwitchboardCli.Ok, exit);
        Assert.Contains("--match-names 'fuzzy' is not exact, ignore-case or ignore-style", error, StringComparison.Ordinal);
        (exit, _, error) = await _cli.RunAsync("diff", "a", "missing");
        Assert.Equal(SwitchboardCli.UsageError, exit);
        Assert.Contains("No database named 'missing'", error, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _cli.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(Path.GetDirectoryName(Files[0])!, recursive: true);
    }
}
