using Dapper;
using Npgsql;
using Switchboard.Tests.Rig;
using Switchboard.Tests.Sessions;

namespace Switchboard.Tests.PostgreSql;

[Collection(ServersCollection.Name)]
public sealed class PostgreSqlSessionTests(DatabaseServers servers) : SessionContractTests
{
    protected override async Task<string> NewDatabaseUrlAsync() => servers.PgUrl(await servers.CreatePgDatabaseAsync("sessions"));

    protected override string UnreachableUrl => $"postgresql://app:{Uri.EscapeDataString(servers.PgPassword)}@127.0.0.1:{DatabaseServers.FreePort()}/nothing";

    protected override string? WrongPasswordUrl => $"postgresql://app:wrong-Pa55@127.0.0.1:{servers.PgPort}/postgres";

    protected override IReadOnlyList<string> Secrets => [servers.PgPassword, "wrong-Pa55"];

    protected override string IsolationQuery => "SHOW transaction_isolation";

    [Fact]
    public async Task A_statement_cancelled_by_its_token_makes_the_commit_refuse_rather_than_roll_back_in_silence()
    {
        await using var catalog = await CatalogAsync();
        await using var session = catalog.OpenSession("main");
        await session.ExecuteAsync("INSERT INTO accounts (id, owner, balance) VALUES (7, 'cancelled', 1)");
        using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        {
            var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => session.ExecuteAsync("SELECT pg_sleep(5)", cancellationToken: cancel.Token));
            Assert.Contains("'main'", cancelled.Message);
        }

        // PostgreSQL aborted the transaction: a COMMIT would come back as a silent ROLLBACK.
        Assert.Contains("rolled back", (await Assert.ThrowsAsync<InvalidOperationException>(() => session.CommitAsync())).Message);
        Assert.Equal(0, await CountFromOutsideAsync(catalog, "id = 7"));
    }

    [Fact]
    public async Task Commit_after_a_failed_statement_is_refused_not_silently_rolled_back()
    {
        await using var catalog = await CatalogAsync();
        await using var session = catalog.OpenSession("main");
        await session.ExecuteAsync("UPDATE accounts SET balance = 7 WHERE id = 1");
        await Assert.ThrowsAsync<DatabaseCommandException>(() => session.ExecuteAsync("SELECT * FROM nope"));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => session.CommitAsync());
        Assert.Contains("'main'", error.Message);
        Assert.Equal(0, await CountFromOutsideAsync(catalog, "balance = 7"));
        Assert.False(session.IsActive);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Commit_after_a_statement_failed_on_the_connection_itself_is_refused_not_silently_rolled_back(bool async)
    {
        // Dapper straight on the session's connection, as in the README: the session's helpers never see the failure.
        await using var catalog = await CatalogAsync();
        await using (var session = catalog.OpenSession("main"))
        {
            var connection = await session.GetConnectionAsync();
            await connection.ExecuteAsync("UPDATE accounts SET balance = 8 WHERE id = 1", transaction: session.Transaction);
            await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync("SELECT * FROM nope", transaction: session.Transaction));
            var error = async
                ? await Assert.ThrowsAsync<InvalidOperationException>(() => session.CommitAsync())
                : Assert.Throws<InvalidOperationException>(session.Commit);
            Assert.Contains("'main'", error.Message);
            Assert.Contains("nothing was committed", error.Message);
            Assert.False(session.IsActive);
        }

        Assert.Equal(0, await CountFromOutsideAsync(catalog, "balance = 8"));

        // The connection went back to the pool in working order, and a plain commit still commits.
        await using (var next = catalog.OpenSession("main"))
        {
            var connection = await next.GetConnectionAsync();
            await connection.ExecuteAsync("UPDATE accounts SET balance = 9 WHERE id = 1", transaction: next.Transaction);
            await next.CommitAsync();
        }

        Assert.Equal(1, await CountFromOutsideAsync(catalog, "balance = 9"));
    }

    [Fact]
    public async Task A_pool_timeout_says_how_many_connections_are_still_connecting_to_a_server_that_does_not_answer()
    {
        // Accepts connections and never answers: the one pooled connection stays "connecting" until its connect timeout.
        using var silent = new SilentServer();
        var port = silent.Port;
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("silent", $"postgresql://app:{Uri.EscapeDataString(servers.PgPassword)}@127.0.0.1:{port}/nothing", o =>
            {
                o.ConnectTimeout = TimeSpan.FromSeconds(5);
                o.Pool.MaxSize = 1;
                o.Pool.CheckoutTimeout = TimeSpan.FromMilliseconds(500);
            })
            .Build();

        var first = Task.Run(async () =>
        {
            await using var holder = catalog.OpenSession("silent");
            await holder.ExecuteScalarAsync<int>("SELECT 1");
        });
        await Task.Delay(300);
        await using (var waiter = catalog.OpenSession("silent"))
        {
            var error = await Assert.ThrowsAsync<PoolTimeoutException>(() => waiter.ExecuteScalarAsync<int>("SELECT 1"));
            Assert.Equal(1, error.Connecting);
            Assert.Contains("1 of them still connecting to the server", error.Message);
            Assert.Contains("stopped answering", error.Message);
            Assert.DoesNotContain(servers.PgPassword, error.ToString());
        }

        await Assert.ThrowsAsync<DatabaseConnectionException>(() => first);
    }

    [Fact]
    public async Task Pre_ping_replaces_connections_the_server_has_closed()
    {
        await using var catalog = await CatalogAsync(o => o.Pool.PrePing = true);
        await using (var warm = catalog.OpenSession("main"))
        {
            await warm.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM accounts");
        }

        // Kill every pooled backend of that database from the outside, as a server restart or failover would.
        var database = catalog.GetDefinition("main").Connection.Database;
        await using (var admin = new NpgsqlConnection(servers.PgAdminConnectionString()))
        {
            await admin.OpenAsync();
            await using var kill = new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = @d AND pid <> pg_backend_pid()", admin);
            kill.Parameters.AddWithValue("d", database!);
            Assert.True((long)(await kill.ExecuteScalarAsync())! >= 1);
        }

        await using var session = catalog.OpenSession("main");
        Assert.Equal(1L, await session.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM accounts"));
    }

    [Fact]
    public async Task Multi_host_urls_reach_the_first_live_host()
    {
        var dead = DatabaseServers.FreePort();
        var url = $"postgresql://app:{Uri.EscapeDataString(servers.PgPassword)}@127.0.0.1:{dead},127.0.0.1:{servers.PgPort}/postgres";
        await using var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("multi", url).Build();
        Assert.Equal(2, catalog.GetDefinition("multi").Connection.Hosts.Count);
        await using var session = catalog.OpenSession("multi");
        Assert.Equal(servers.PgPort, await session.ExecuteScalarAsync<int>("SELECT inet_server_port()"));
    }

    [Fact]
    public async Task Disposing_the_catalog_closes_the_pool_on_the_server()
    {
        var catalog = await CatalogAsync(o => o.Pool.MinIdle = 2);
        var database = catalog.GetDefinition("main").Connection.Database!;
        await Task.WhenAll(Enumerable.Range(0, 3).Select(async _ =>
        {
            await using var s = catalog.OpenSession("main");
            await s.ExecuteScalarAsync<long>("SELECT count(*) FROM (SELECT pg_sleep(0.05)) s");
        }));
        Assert.True(await BackendsAsync(database) >= 1);
        await catalog.DisposeAsync();
        await WaitUntil(() => BackendsAsync(database).GetAwaiter().GetResult() == 0);
    }

    private async Task<long> BackendsAsync(string database)
    {
        await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
        await admin.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE datname = @d AND pid <> pg_backend_pid()", admin);
        count.Parameters.AddWithValue("d", database);
        return (long)(await count.ExecuteScalarAsync())!;
    }
}
