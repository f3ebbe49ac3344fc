using System.Text.Json;

namespace Switchboard.Tests.Cli;

public sealed class CliTests : IDisposable
{
    private readonly CliRunner _cli = new();

    [Fact]
    public async Task Check_on_the_embedded_default_creates_sqlite_files_and_reports_healthy()
    {
        var (exit, output, error) = await _cli.RunAsync("check");
        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Contains("app", output);
        Assert.Contains("audit", output);
        Assert.Contains("sqlite", output);
        Assert.Contains("OK", output);
        Assert.Contains("embedded default", output);
        Assert.True(File.Exists(Path.Combine(_cli.Folder, ".switchboard", "app.db")));
    }

    [Fact]
    public async Task Check_exits_1_when_a_database_fails_and_never_prints_its_password()
    {
        _cli.WriteConfig($$"""
        { "Databases": {
            "local": { "Url": "sqlite:///local.db" },
            "down":  { "Url": "postgresql://app:Do-Not-Print-Me@127.0.0.1:{{Rig.DatabaseServers.FreePort()}}/x", "ConnectTimeout": 2 } } }
        """);
        var (exit, output, _) = await _cli.RunAsync("check");
        Assert.Equal(1, exit);
        Assert.Contains("local", output);
        Assert.Contains("ERROR", output);
        Assert.Contains("'down'", output);
        Assert.DoesNotContain("Do-Not-Print-Me", output);

        var (jsonExit, json, _) = await _cli.RunAsync("check", "--json");
        Assert.Equal(1, jsonExit);
        Assert.DoesNotContain("Do-Not-Print-Me", json);
        Assert.Contains("'down'", json); // readable, not \u0027down\u0027
        var rows = JsonDocument.Parse(json).RootElement.EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
        Assert.True(rows["local"].GetProperty("ok").GetBoolean());
        Assert.False(rows["down"].GetProperty("ok").GetBoolean());
        Assert.Equal("sqlite", rows["local"].GetProperty("dialect").GetString());
        Assert.True(rows["local"].GetProperty("latencyMs").GetDouble() > 0);
    }

    [Fact]
    public async Task An_invalid_configuration_lists_every_problem_and_exits_2()
    {
        _cli.WriteConfig("""
        { "Databases": {
            "orders": { "Url": "postgresql://app:Do-Not-Print-Me@db:70000/orders" },
            "audit":  { "Url": "sqlite:///a.db", "Pool": { "MaxSize": -1 } } } }
        """);
        var (exit, output, error) = await _cli.RunAsync("check");
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Contains("2 problems", error);
        Assert.Contains("orders: Url:", error);
        Assert.Contains("audit: Pool:MaxSize:", error);
        Assert.DoesNotContain("Do-Not-Print-Me", error);
    }

    [Fact]
    public async Task Config_file_option_and_missing_file()
    {
        _cli.WriteConfig("""{ "Databases": { "mine": { "Url": "sqlite:///mine.db" } } }""", "other.json");
        var (exit, output, _) = await _cli.RunAsync("check", "--config", "other.json");
        Assert.Equal(0, exit);
        Assert.Contains("mine", output);

        var (missingExit, _, error) = await _cli.RunAsync("check", "--config", "nope.json");
        Assert.Equal(2, missingExit);
        Assert.Contains("not found", error);

        // Broken JSON: where it is broken.
        _cli.WriteConfig("{ \"Databases\": {\n  \"a\": { \"Url\": \"sqlite:///a.db\" }\n  \"b\": { } } }", "broken.json");
        var (brokenExit, _, brokenError) = await _cli.RunAsync("check", "--config", "broken.json");
        Assert.Equal(2, brokenExit);
        Assert.Contains("Line 3, position 3", brokenError);
    }

    [Theory]
    [InlineData("schema")]                 // a required argument missing
    [InlineData("frobnicate")]             // an unknown command
    [InlineData("check", "--jsn")]         // an unknown option
    public async Task A_command_line_that_does_not_parse_exits_2_like_any_usage_error(params string[] args)
    {
        var (exit, _, error) = await _cli.RunAsync(args);
        Assert.Equal(2, exit);
        Assert.NotEmpty(error);
    }

    [Fact]
    public async Task Sql_prints_every_result_of_a_text_with_several_statements_and_a_count_in_json()
    {
        await _cli.RunAsync("sql", "app", "CREATE TABLE tally (n INTEGER)");
        var (_, inserted, _) = await _cli.RunAsync("sql", "app", "INSERT INTO tally VALUES (1), (2), (3)", "--json");
        Assert.Equal(3, JsonDocument.Parse(inserted).RootElement.GetProperty("rowsAffected").GetInt32());

        var (exit, tables, _) = await _cli.RunAsync("sql", "app", "SELECT COUNT(*) AS how_many FROM tally; SELECT MAX(n) AS top FROM tally");
        Assert.Equal(0, exit);
        Assert.Contains("how_many", tables);
        Assert.Contains("top", tables);

        var (_, json, _) = await _cli.RunAsync("sql", "app", "SELECT COUNT(*) AS how_many FROM tally; SELECT MAX(n) AS top FROM tally", "--json");
        var results = JsonDocument.Parse(json).RootElement;
        Assert.Equal(2, results.GetArrayLength());
        Assert.Equal(3, results[0][0].GetProperty("how_many").GetInt32());
        Assert.Equal(3, results[1][0].GetProperty("top").GetInt32());
    }

    [Fact]
    public async Task Sql_prints_a_table_json_and_csv()
    {
        await _cli.RunAsync("sql", "app", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, score REAL)");
        var (insertExit, inserted, _) = await _cli.RunAsync("sql", "app", "INSERT INTO notes (body, score) VALUES ('hello, \"world\"', 1.5), (NULL, 2)");
        Assert.Equal(0, insertExit);
        Assert.Contains("2 rows affected", inserted);

        var (exit, table, _) = await _cli.RunAsync("sql", "app", "SELECT id, body, score FROM notes ORDER BY id");
        Assert.Equal(0, exit);
        Assert.Contains("body", table);
        Assert.Contains("NULL", table);
        Assert.Contains("2 rows", table);

        var (_, json, _) = await _cli.RunAsync("sql", "app", "SELECT id, body, score FROM notes ORDER BY id", "--json");
        var rows = JsonDocument.Parse(json).RootElement;
        Assert.Equal("hello, \"world\"", rows[0].GetProperty("body").GetString());
        Assert.Equal(JsonValueKind.Null, rows[1].GetProperty("body").ValueKind);
        Assert.Equal(1.5, rows[0].GetProperty("score").GetDouble());

        var (_, csv, _) = await _cli.RunAsync("sql", "app", "SELECT id, body FROM notes ORDER BY id", "--csv");
        Assert.Equal(["id,body", "1,\"hello, \"\"world\"\"\"", "2,"], csv.TrimEnd().Split(Environment.NewLine));
    }

    [Fact]
    public async Task Sql_errors_are_clear()
    {
        var (unknown, _, error) = await _cli.RunAsync("sql", "ap", "SELECT 1");
        Assert.Equal(2, unknown);
        Assert.Contains("did you mean 'app'", error);

        var (failed, _, sqlError) = await _cli.RunAsync("sql", "app", "SELEKT 1");
        Assert.Equal(1, failed);
        Assert.Contains("syntax error", sqlError);

        var (readOnly, _, roError) = await _cli.RunAsync("sql", "app", "CREATE TABLE t (x INTEGER)", "--read-only");
        Assert.Equal(1, readOnly);
        Assert.Contains("readonly", roError.Replace("-", "").Replace(" ", "").ToLowerInvariant());
    }

    public void Dispose() => _cli.Dispose();
}
