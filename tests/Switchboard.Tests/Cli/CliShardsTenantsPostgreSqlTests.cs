using System.Text.Json;
using Dapper;
using Npgsql;
using Switchboard.Tests.Cli;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.PostgreSql;

/// <summary>The CLI's shard and tenant commands against the real PostgreSQL: fan-out over two databases, tenant databases created and dropped, no password shown.</summary>
[Collection(ServersCollection.Name)]
public sealed class CliShardsTenantsPostgreSqlTests(DatabaseServers servers) : IDisposable
{
    private readonly CliRunner _cli = new();

    [Fact]
    public async Task Fan_out_and_tenant_databases_on_postgresql_without_showing_the_password()
    {
        var shards = new[] { await servers.CreatePgDatabaseAsync("cli_shard"), await servers.CreatePgDatabaseAsync("cli_shard") };
        var prefix = "clit" + Guid.NewGuid().ToString("N")[..6];
        var url = $"postgresql://app:${{CLI_PG_PASSWORD}}@127.0.0.1:{servers.PgPort}/";
        _cli.WriteConfig($$"""
        { "Databases": { "p0": "{{url}}{{shards[0]}}", "p1": "{{url}}{{shards[1]}}" },
          "Shards": { "users": { "Strategy": "hash", "Databases": ["p0", "p1"] } },
          "Tenants": { "customers": { "Url": "{{url}}{{prefix}}_{tenant}", "MaxOpenConnections": 4,
                                      "Schema": "CREATE TABLE notes (id SERIAL PRIMARY KEY, body TEXT NOT NULL)" } } }
        """);
        Environment.SetEnvironmentVariable("CLI_PG_PASSWORD", servers.PgPassword);
        await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
        await admin.OpenAsync();
        try
        {
            foreach (var shard in new[] { "p0", "p1" })
            {
                var (exit, _, error) = await _cli.RunAsync("sql", shard, $"CREATE TABLE users (id INT PRIMARY KEY, name TEXT); INSERT INTO users SELECT g, '{shard}-' || g FROM generate_series(1, 3) g");
                Assert.True(exit == 0, error);
            }

            var outputs = new List<string>();
            var (fanExit, fan, fanError) = await _cli.RunAsync("sql", "users", "SELECT id, name FROM users ORDER BY id DESC LIMIT 2", "--all-shards", "--order-by", "id", "--desc", "--limit", "2", "--json");
            Assert.True(fanExit == 0, fanError);
            outputs.Add(fan);
            var rows = JsonDocument.Parse(fan).RootElement.EnumerateArray().ToList();
            Assert.Equal([3, 3], rows.Select(r => r.GetProperty("id").GetInt32()));
            Assert.Equal(["p0", "p1"], rows.Select(r => r.GetProperty("shard").GetString()));
            Assert.All(rows, r => Assert.StartsWith(r.GetProperty("shard").GetString()! + "-", r.GetProperty("name").GetString()));

            var (checkExit, check, checkError) = await _cli.RunAsync("check");
            Assert.True(checkExit == 0, check + checkError);
            outputs.Add(check);
            Assert.Matches(@"users\s*│\s*hash\s*│\s*p0, p1\s*│\s*2/2", check);
            Assert.Contains($"127.0.0.1:{servers.PgPort}/{prefix}_{{tenant}}", check);

            var (createExit, created, createError) = await _cli.RunAsync("tenants", "create", "customers", "acme", "globex");
            Assert.True(createExit == 0, createError);
            outputs.Add(created);
            var present = (await admin.QueryAsync<string>("SELECT datname FROM pg_database WHERE datname LIKE @p ORDER BY 1", new { p = prefix + "\\_%" })).ToList();
            Assert.Equal([prefix + "_acme", prefix + "_globex"], present);

            var (insertExit, _, insertError) = await _cli.RunAsync("sql", "customers/acme", "INSERT INTO notes (body) VALUES ('only acme')");
            Assert.True(insertExit == 0, insertError);
            var (_, globex, _) = await _cli.RunAsync("sql", "customers/globex", "SELECT COUNT(*)::int AS n FROM notes", "--json");
            Assert.Equal(0, JsonDocument.Parse(globex).RootElement[0].GetProperty("n").GetInt32());
            var (listExit, list, _) = await _cli.RunAsync("tenants", "list");
            Assert.Equal(0, listExit);
            outputs.Add(list);

            var (failExit, _, failError) = await _cli.RunAsync("sql", "customers/acme", "SELECT * FROM missing_table");
            Assert.Equal(1, failExit);
            Assert.Contains("failed on database 'customers/acme' at 127.0.0.1:", failError); // which database, and where
            outputs.Add(failError);
            var (missingExit, _, missingError) = await _cli.RunAsync("sql", "customers/nobody", "SELECT 1");
            Assert.Equal(1, missingExit);
            Assert.Contains("does not exist", missingError);

            var (dropExit, dropped, dropError) = await _cli.RunAsync("tenants", "drop", "customers", "acme", "globex", "--yes");
            Assert.True(dropExit == 0, dropError);
            outputs.Add(dropped);
            Assert.Equal(0, await admin.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pg_database WHERE datname LIKE @p", new { p = prefix + "\\_%" }));
            Assert.All(outputs, o => Assert.DoesNotContain(servers.PgPassword, o));
        }
        finally
        {
            Environment.SetEnvironmentVariable("CLI_PG_PASSWORD", null);
            foreach (var tenant in new[] { "acme", "globex" })
            {
                await admin.ExecuteAsync($"DROP DATABASE IF EXISTS \"{prefix}_{tenant}\" WITH (FORCE)");
            }
        }
    }

    public void Dispose() => _cli.Dispose();
}
