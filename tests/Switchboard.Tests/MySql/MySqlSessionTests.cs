using Dapper;
using System.Diagnostics;
using Switchboard.MySql;
using Switchboard.Tests.Rig;
using Switchboard.Tests.Sessions;

namespace Switchboard.Tests.MySql;

[Collection(ServersCollection.Name)]
public sealed class MySqlSessionTests(DatabaseServers servers) : SessionContractTests
{
    protected override async Task<string> NewDatabaseUrlAsync() => servers.MyUrl(await servers.CreateMyDatabaseAsync("sessions"));

    protected override string UnreachableUrl => $"mariadb://app:{Uri.EscapeDataString(servers.MyPassword)}@127.0.0.1:{DatabaseServers.FreePort()}/nothing";

    protected override string? WrongPasswordUrl => $"mysql://app:wrong-Pa55@127.0.0.1:{servers.MyPort}/mysql";

    protected override IReadOnlyList<string> Secrets => [servers.MyPassword, "wrong-Pa55"];

    protected override string IsolationQuery => "SELECT @@tx_isolation";

    [Fact]
    public async Task The_dialect_found_MySql_Data_and_reads_information_schema_on_MariaDB()
    {
        await using var catalog = await CatalogAsync();
        Assert.Equal("MySql.Data", Assert.IsType<MySqlDialect>(catalog.GetDefinition("main").Dialect).DriverName);
        await using var session = catalog.OpenSession("main");

        // MariaDB sends these in utf8mb3, which MySql.Data cannot decode without the dialect's charset fix.
        var tables = await session.QueryAsync<string>(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()");
        Assert.Contains("accounts", tables);
        Assert.Contains("MariaDB", await session.ExecuteScalarAsync<string>("SELECT @@version"));

        // As people know it: without the "5.5.5-" MariaDB sends for old replication clients.
        var version = catalog.GetEngine("main").ServerVersion;
        Assert.Contains("MariaDB", version);
        Assert.DoesNotContain("5.5.5-", version);
    }

    [Fact]
    public async Task After_a_deadlock_the_session_refuses_further_statements_and_the_commit_since_InnoDB_rolled_everything_back()
    {
        await using var catalog = await CatalogAsync();
        await using (var setup = catalog.OpenSession("main"))
        {
            await setup.ExecuteAsync("INSERT INTO accounts (id, owner, balance) VALUES (2, 'bob', 100)");
            await setup.ExecuteAsync("CREATE TABLE ballast (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
            await setup.ExecuteAsync("INSERT INTO ballast SELECT seq, 0 FROM seq_1_to_200");
            await setup.CommitAsync();
        }

        // The other transaction changes more rows, so that InnoDB picks the victim as the deadlock's victim.
        await using var victim = catalog.OpenSession("main");
        await using var other = catalog.OpenSession("main");
        await victim.ExecuteAsync("UPDATE accounts SET balance = 1 WHERE id = 1");
        await other.ExecuteAsync("UPDATE ballast SET n = n + 1");
        await other.ExecuteAsync("UPDATE accounts SET balance = 102 WHERE id = 2");
        var blocked = Task.Run(() => victim.ExecuteAsync("UPDATE accounts SET balance = 2 WHERE id = 2")); // waits for other
        await Task.Delay(300);
        var closing = Task.Run(() => other.ExecuteAsync("UPDATE accounts SET balance = 101 WHERE id = 1")); // closes the cycle
        Assert.Equal(DatabaseErrorKind.Deadlock, (await Assert.ThrowsAsync<DatabaseCommandException>(() => blocked)).Kind);
        await closing;
        await other.CommitAsync();

        // InnoDB rolled the victim's whole transaction back: a later statement would autocommit, outside any transaction.
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => victim.ExecuteAsync("UPDATE accounts SET balance = 3 WHERE id = 1"));
        Assert.Contains("'main'", refused.Message);
        var commit = await Assert.ThrowsAsync<InvalidOperationException>(() => victim.CommitAsync());
        Assert.Contains("Deadlock", commit.Message);
        Assert.Contains("was not committed", commit.Message);
        Assert.Equal(1, await CountFromOutsideAsync(catalog, "id = 1 AND balance = 101"));
        Assert.Equal(0, await CountFromOutsideAsync(catalog, "balance IN (1, 3)"));

        // The session is usable again for the retry.
        await victim.ExecuteAsync("UPDATE accounts SET balance = 5 WHERE id = 1");
        await victim.CommitAsync();
        Assert.Equal(1, await CountFromOutsideAsync(catalog, "id = 1 AND balance = 5"));
    }

    [Fact]
    public async Task A_server_that_never_answers_holds_up_only_the_opens_to_itself_and_those_for_no_longer_than_the_connect_timeout()
    {
        // Accepts connections and never sends the handshake: MySql.Data's open blocks its thread until its connect timeout.
        using var silent = new SilentServer();
        var silentPort = silent.Port;
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("silent", $"mysql://app:{Uri.EscapeDataString(servers.MyPassword)}@127.0.0.1:{silentPort}/nothing",
                o => o.ConnectTimeout = TimeSpan.FromSeconds(3))
            .AddDatabase("main", servers.MyUrl("mysql"))
            .Build();

        async Task QuerySilentAsync()
        {
            await using var session = catalog.OpenSession("silent");
            await session.ExecuteScalarAsync<int>("SELECT 1");
        }

        var first = Task.Run(QuerySilentAsync);
        await Task.Delay(300);
        var second = Task.Run(QuerySilentAsync);

        // Same host, another port: not queued behind the silent server (it was, when opens were gated by host name only).
        var started = Stopwatch.StartNew();
        await using (var session = catalog.OpenSession("main"))
        {
            Assert.Equal(1, await session.ExecuteScalarAsync<int>("SELECT 1"));
        }

        Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(2.5)); // behind the silent server: 3 s or more

        // Both opens to the silent server fail as connection failures naming it. The first at its connect timeout; the
        // second waited for the first (a queue that does not move for a connect timeout is given up), then made its own
        // attempt: never an unbounded queue.
        foreach (var (open, limit) in new[] { (first, 5), (second, 9) })
        {
            var error = await Assert.ThrowsAsync<DatabaseConnectionException>(() => open);
            Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(limit));
            Assert.Contains("'silent'", error.Message);
            Assert.Contains($"127.0.0.1:{silentPort}", error.Message);
            Assert.DoesNotContain(servers.MyPassword, error.ToString());
        }
    }

    [Fact]
    public async Task A_connection_killed_by_the_server_is_reported_as_lost_and_transient()
    {
        await using var catalog = await CatalogAsync();
        await using var session = catalog.OpenSession("main");
        var id = await session.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
        await using (var killer = catalog.OpenSession("main"))
        {
            await killer.ExecuteAsync($"KILL {id}");
        }

        // MySql.Data reports this as a "fatal error" without a server error number; the cause is the closed socket.
        var error = await Assert.ThrowsAsync<DatabaseCommandException>(() => session.ExecuteScalarAsync<long>("SELECT 1"));
        Assert.Equal(DatabaseErrorKind.ConnectionLost, error.Kind);
        Assert.True(error.IsTransient);
        Assert.Contains("'main'", error.Message);
    }

    [Fact]
    public async Task A_command_timeout_is_reported_as_a_timeout_and_a_cancellation_as_a_cancellation()
    {
        await using var catalog = await CatalogAsync(o => o.CommandTimeout = TimeSpan.FromSeconds(1));
        await using (var session = catalog.OpenSession("main"))
        {
            // MySql.Data times the command out on the socket and wraps the timed-out read as an I/O error.
            var error = await Assert.ThrowsAsync<DatabaseCommandException>(() => session.ExecuteScalarAsync<long>("SELECT SLEEP(3)"));
            Assert.Equal(DatabaseErrorKind.Timeout, error.Kind);
            Assert.Contains("'main'", error.Message);
        }

        await using (var session = catalog.OpenSession("main"))
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(
                () => session.ExecuteScalarAsync<long>("SELECT SLEEP(0.9)", cancellationToken: cancel.Token));
            Assert.Contains("'main'", error.Message);
        }

        await using var after = catalog.OpenSession("main");
        Assert.Equal(1, await after.ExecuteScalarAsync<long>("SELECT 1"));
    }

    [Theory]
    [InlineData(true, 10)]
    [InlineData(false, 10)]
    [InlineData(true, 1)] // the pool full: the KILL needs a connection of its own
    public async Task A_statement_past_its_command_timeout_is_stopped_on_the_server_and_the_connection_survives(bool async, int poolSize)
    {
        await using var catalog = await CatalogAsync(o =>
        {
            o.CommandTimeout = TimeSpan.FromSeconds(1);
            o.Pool.MaxSize = poolSize;
        });
        var marker = "timed_out_" + Guid.NewGuid().ToString("N")[..8];
        var sql = $"SELECT SLEEP(30) AS {marker}";
        await using (var session = catalog.OpenSession("main"))
        {
            await session.ExecuteAsync("UPDATE accounts SET balance = 11 WHERE id = 1");
            var started = Stopwatch.StartNew();
            var error = async
                ? await Assert.ThrowsAsync<DatabaseCommandException>(() => session.ExecuteScalarAsync<long>(sql))
                : Assert.Throws<DatabaseCommandException>(() => session.ExecuteScalar<long>(sql));
            Assert.Equal(DatabaseErrorKind.Timeout, error.Kind);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"the timeout took {started.Elapsed.TotalSeconds:0.0} s");

            // MySql.Data alone would have closed the connection and left the statement running on the server.
            Assert.Equal(System.Data.ConnectionState.Open, session.Connection.State);
            await using (var look = new global::MySql.Data.MySqlClient.MySqlConnection(servers.MyAdminConnectionString("mysql")))
            {
                await look.OpenAsync();
                Assert.Equal(0, await look.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE @pattern AND ID <> CONNECTION_ID()", new { pattern = "%" + marker + "%" }));
            }

            // The session refuses to commit after the interruption; the rollback goes through on the live connection.
            await Assert.ThrowsAsync<InvalidOperationException>(() => session.CommitAsync());
        }

        Assert.Equal(0, await CountFromOutsideAsync(catalog, "balance = 11"));
    }

    [Fact]
    public async Task A_fan_out_statement_past_its_command_timeout_is_stopped_on_every_MySQL_shard()
    {
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("s0", servers.MyUrl(await servers.CreateMyDatabaseAsync("fanout")))
            .AddDatabase("s1", servers.MyUrl(await servers.CreateMyDatabaseAsync("fanout")))
            .AddShardMap("events", Switchboard.Sharding.ShardStrategy.Hash, ["s0", "s1"])
            .Build();
        var marker = "fan_timed_out_" + Guid.NewGuid().ToString("N")[..8];
        var options = new Switchboard.Sharding.FanOutOptions
        {
            CommandTimeout = TimeSpan.FromSeconds(1),
            FailurePolicy = Switchboard.Sharding.ShardFailurePolicy.ReturnPartialResults,
        };
        var started = Stopwatch.StartNew();
        var result = await catalog.Shards("events").Query<long>($"SELECT SLEEP(30) AS {marker}", options: options).ToResultAsync();
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"the fan-out took {started.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(2, result.Failures.Count);
        Assert.All(result.Failures, failure => Assert.Equal(DatabaseErrorKind.Timeout, Assert.IsType<DatabaseCommandException>(failure.Error).Kind));

        await using var look = new global::MySql.Data.MySqlClient.MySqlConnection(servers.MyAdminConnectionString("mysql"));
        await look.OpenAsync();
        Assert.Equal(0, await look.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE @pattern AND ID <> CONNECTION_ID()", new { pattern = "%" + marker + "%" }));
    }

    [Fact]
    public async Task After_the_driver_closed_the_connection_at_a_timeout_helpers_and_commit_refuse_and_rollback_is_quiet()
    {
        // A raw command on the session's connection: MySql.Data's own timeout closes the connection.
        await using var catalog = await CatalogAsync();
        async Task TimeOutRawAsync(DatabaseSession session)
        {
            await session.ExecuteAsync("UPDATE accounts SET balance = 12 WHERE id = 1");
            var connection = await session.GetConnectionAsync();
            await Assert.ThrowsAnyAsync<Exception>(() => connection.ExecuteScalarAsync<long>("SELECT SLEEP(5)", commandTimeout: 1));
            Assert.NotEqual(System.Data.ConnectionState.Open, connection.State);
        }

        await using (var rolledBack = catalog.OpenSession("main"))
        {
            await TimeOutRawAsync(rolledBack);
            await rolledBack.RollbackAsync(); // the server rolled back when the connection went: nothing to fail
            Assert.False(rolledBack.IsActive);
        }

        await using (var committed = catalog.OpenSession("main"))
        {
            await TimeOutRawAsync(committed);

            // A helper after it: refused, not run on a connection Dapper would open again outside the transaction.
            var helper = await Assert.ThrowsAsync<DatabaseCommandException>(() => committed.ExecuteAsync("UPDATE accounts SET balance = 13 WHERE id = 1"));
            Assert.Equal(DatabaseErrorKind.ConnectionLost, helper.Kind);
            Assert.Throws<InvalidOperationException>(() => committed.Execute("UPDATE accounts SET balance = 13 WHERE id = 1"));

            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => committed.CommitAsync());
            Assert.Contains("was not committed", error.Message);
            Assert.Contains("'main'", error.Message);
            Assert.DoesNotContain(servers.MyPassword, error.ToString());
        }

        await using (var committed = catalog.OpenSession("main"))
        {
            await TimeOutRawAsync(committed);
            var error = await Assert.ThrowsAsync<DatabaseCommandException>(() => committed.CommitAsync());
            Assert.Equal(DatabaseErrorKind.ConnectionLost, error.Kind);
            Assert.Contains("COMMIT (not sent)", error.Message);
            Assert.Contains("rolled back the transaction's work", error.Message);
            Assert.Contains("'main'", error.Message);
            Assert.DoesNotContain(servers.MyPassword, error.ToString());
        }

        Assert.Equal(0, await CountFromOutsideAsync(catalog, "balance IN (12, 13)"));
    }

    [Fact]
    public async Task A_provider_and_connection_string_with_an_environment_password_work()
    {
        var database = await servers.CreateMyDatabaseAsync("explicit");
        var connectionString = $"Server=127.0.0.1;Port={servers.MyPort};User ID=app;Password=${{LEGACY_PASSWORD}};Database={database}";
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDialect(new MySqlDialect(global::MySql.Data.MySqlClient.MySqlClientFactory.Instance))
            .UseEnvironment(name => name == "LEGACY_PASSWORD" ? servers.MyPassword : null)
            .AddDatabase("legacy", "mariadb", connectionString)
            .Build();
        Assert.DoesNotContain(servers.MyPassword, catalog.GetDefinition("legacy").ToString());
        await using var session = catalog.OpenSession("legacy");
        Assert.Equal(database, await session.ExecuteScalarAsync<string>("SELECT DATABASE()"));
    }

    [Fact]
    public async Task Disposing_the_catalog_closes_the_pool_on_the_server()
    {
        var catalog = await CatalogAsync();
        var database = catalog.GetDefinition("main").Connection.Database!;
        await Task.WhenAll(Enumerable.Range(0, 3).Select(async _ =>
        {
            await using var s = catalog.OpenSession("main");
            await s.ExecuteScalarAsync<long>("SELECT SLEEP(0.05)");
        }));
        Assert.True(await ConnectionsAsync(database) >= 1);
        await catalog.DisposeAsync();
        await WaitUntil(() => ConnectionsAsync(database).GetAwaiter().GetResult() == 0);
    }

    private async Task<long> ConnectionsAsync(string database)
    {
        await using var admin = new global::MySql.Data.MySqlClient.MySqlConnection(servers.MyAdminConnectionString());
        await admin.OpenAsync();
        await using var count = new global::MySql.Data.MySqlClient.MySqlCommand(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = @d AND ID <> CONNECTION_ID()", admin);
        count.Parameters.AddWithValue("@d", database);
        return Convert.ToInt64(await count.ExecuteScalarAsync());
    }
}
