using System.Text.Json;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.Cli;

/// <summary>The CLI against the real servers: one table row per database, every dialect, version and latency shown.</summary>
[Collection(ServersCollection.Name)]
public sealed class CliServerTests(DatabaseServers servers) : IDisposable
{
    private readonly CliRunner _cli = new();

    [Fact]
    public async Task Check_reports_all_three_dialects_with_versions()
    {
        var pg = await servers.CreatePgDatabaseAsync("cli");
        var my = await servers.CreateMyDatabaseAsync("cli");
        _cli.WriteConfig($$"""
        { "Databases": {
            "orders": { "Url": "postgresql://app:${CLI_PG_PASSWORD}@127.0.0.1:{{servers.PgPort}}/{{pg}}", "Pool": { "MaxSize": 5 } },
            "legacy": { "Provider": "mariadb", "ConnectionString": "Server=127.0.0.1;Port={{servers.MyPort}};User ID=app;Password={{servers.MyPassword}};Database={{my}}" },
            "audit":  { "Url": "sqlite:///audit.db" } } }
        """);
        Environment.SetEnvironmentVariable("CLI_PG_PASSWORD", servers.PgPassword);
        try
        {
            var (exit, json, error) = await _cli.RunAsync("check", "--json");
            Assert.True(exit == 0, error + json);
            Assert.DoesNotContain(servers.PgPassword, json);
            Assert.DoesNotContain(servers.MyPassword, json);
            var rows = JsonDocument.Parse(json).RootElement.EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
            Assert.Equal("postgresql", rows["orders"].GetProperty("dialect").GetString());
            Assert.StartsWith("15", rows["orders"].GetProperty("serverVersion").GetString());
            Assert.Equal(5, rows["orders"].GetProperty("pool").GetProperty("maxSize").GetInt32());
            Assert.Equal("mysql", rows["legacy"].GetProperty("dialect").GetString());
            Assert.Contains("MariaDB", rows["legacy"].GetProperty("serverVersion").GetString());
            Assert.Equal("sqlite", rows["audit"].GetProperty("dialect").GetString());

            var (tableExit, table, _) = await _cli.RunAsync("check");
            Assert.Equal(0, tableExit);
            Assert.DoesNotContain(servers.PgPassword, table);
            Assert.Contains($"127.0.0.1:{servers.PgPort}/{pg}", table);

            var (sqlExit, sql, _) = await _cli.RunAsync("sql", "legacy", "SELECT table_name FROM information_schema.tables WHERE table_schema = 'mysql' AND table_name = 'user'", "--csv");
            Assert.Equal(0, sqlExit);
            Assert.Contains("user", sql);

            // Values as people read them: arrays, dates and unsigned numbers, in the table and in JSON.
            var (_, arrays, _) = await _cli.RunAsync("sql", "orders", "SELECT ARRAY[1,2,3] AS a, DATE '2024-01-02' AS d", "--json");
            var arrayRow = JsonDocument.Parse(arrays).RootElement[0];
            Assert.Equal([1, 2, 3], arrayRow.GetProperty("a").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal("2024-01-02", arrayRow.GetProperty("d").GetString());
            var (_, arrayTable, _) = await _cli.RunAsync("sql", "orders", "SELECT ARRAY[1,2,3] AS a");
            Assert.Contains("{1,2,3}", arrayTable);
            var (_, unsigned, _) = await _cli.RunAsync("sql", "legacy", "SELECT CAST(7 AS UNSIGNED) AS u, DATE('2024-01-02') AS d", "--json");
            var unsignedRow = JsonDocument.Parse(unsigned).RootElement[0];
            Assert.Equal(7, unsignedRow.GetProperty("u").GetInt64());
            Assert.Equal("2024-01-02", unsignedRow.GetProperty("d").GetString());
        }
        finally
        {
            Environment.SetEnvironmentVariable("CLI_PG_PASSWORD", null);
        }
    }

    public void Dispose() => _cli.Dispose();
}
