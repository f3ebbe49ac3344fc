using Switchboard.Tests.Rig;

namespace Switchboard.Tests.MySql;

/// <summary>A MariaDB 10.11 primary and GTID replica of the tests' own: role detection and read-your-writes by GTID position.</summary>
public sealed class MariaDbRoutingTests(MariaDbPairFixture fixture) : IClassFixture<MariaDbPairFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private readonly MariaDbReplicaPair _pair = fixture.Pair;

    private async Task<string> DatabaseAsync(string prefix)
    {
        var database = $"{prefix}_{Guid.NewGuid().ToString("N")[..8]}";
        await _pair.ScalarAsync<long>(false, $"CREATE DATABASE `{database}`; SELECT 1");
        await _pair.ScalarAsync<long>(false, "CREATE TABLE items (id int PRIMARY KEY, name varchar(20)); SELECT 1", database);
        var position = await _pair.ScalarAsync<string>(false, "SELECT @@gtid_binlog_pos");
        Assert.Equal(0L, await _pair.ScalarAsync<long>(true, $"SELECT MASTER_GTID_WAIT('{position}', 10)"));
        return database;
    }

    private SwitchboardCatalog Catalog(string database, Action<DatabaseOptions>? configure = null) =>
        SwitchboardCatalog.CreateBuilder()
            .AddDatabase("shop", _pair.Url(database), o =>
            {
                o.Replicas = [_pair.ReplicaHost];
                o.Routing.MonitorInterval = TimeSpan.FromMilliseconds(100);
                configure?.Invoke(o);
            })
            .Build();

    private static async Task<(int Port, long Count)> ReadAsync(DatabaseSession session, int id) =>
        (await session.ExecuteScalarAsync<int>("SELECT @@port"), await session.ExecuteScalarAsync<long>("SELECT count(*) FROM items WHERE id = @id", new { id }));

    [Fact]
    public async Task Roles_come_from_read_only_and_replica_status_and_sessions_follow_them()
    {
        var database = await DatabaseAsync("roles");

        // Listed the wrong way round: the replica as the URL's host, the primary as a replica.
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("shop", $"mariadb://app:{Uri.EscapeDataString(_pair.Password)}@127.0.0.1:{_pair.ReplicaPort}/{database}",
                o => o.Replicas = [$"127.0.0.1:{_pair.PrimaryPort}"])
            .Build();
        await using (var write = catalog.OpenSession("shop"))
        {
            await write.ExecuteAsync("INSERT INTO items VALUES (1, 'x')");
            Assert.Equal(_pair.PrimaryPort, await write.ExecuteScalarAsync<int>("SELECT @@port"));
            await write.CommitAsync();
        }

        var statuses = catalog.GetEngine("shop").GetHostStatuses();
        Assert.Equal([HostRole.Replica, HostRole.Primary], statuses.Select(h => h.Role));
        Assert.True(statuses[1].IsPrimary);
        Assert.Matches(@"^0-1-\d+$", statuses[1].Position);

        for (var i = 0; i < 4; i++)
        {
            await using var read = catalog.OpenSession("shop", SessionIntent.ReadOnly);
            Assert.Equal(_pair.ReplicaPort, await read.ExecuteScalarAsync<int>("SELECT @@port"));
            Assert.Equal($"127.0.0.1:{_pair.ReplicaPort}/{database}", read.Target);
        }
    }

    [Fact]
    public async Task Read_your_writes_follows_the_gtid_position_and_waits_with_master_gtid_wait()
    {
        var database = await DatabaseAsync("ryw");
        await using var catalog = Catalog(database, o => o.Routing.MaxReplicaLag = Timeout.InfiniteTimeSpan);
        await catalog.GetEngine("shop").RefreshTopologyAsync();
        await _pair.RootSqlAsync(true, "STOP SLAVE SQL_THREAD");
        try
        {
            using (ReadYourWritesContext.Begin())
            {
                await using (var write = catalog.OpenSession("shop"))
                {
                    await write.ExecuteAsync("INSERT INTO items VALUES (5, 'mine')");
                    await write.CommitAsync();
                }

                Assert.Matches(@"^0-1-\d+$", ReadYourWritesContext.Current!.Token.Positions["shop"]);
                await using (var read = catalog.OpenSession("shop", SessionIntent.ReadOnly))
                {
                    Assert.Equal((_pair.PrimaryPort, 1L), await ReadAsync(read, 5));
                }
            }

            // Not in the context: the replica, which has not applied the write.
            await using (var unrelated = catalog.OpenSession("shop", SessionIntent.ReadOnly))
            {
                Assert.Equal((_pair.ReplicaPort, 0L), await ReadAsync(unrelated, 5));
            }

            await Wait.UntilAsync(() => catalog.GetEngine("shop").GetHostStatuses()[1].Lag > TimeSpan.Zero, Patience, "the replica lags");
            Assert.Equal("replication SQL thread stopped", catalog.GetEngine("shop").GetHostStatuses()[1].Error);
        }
        finally
        {
            await _pair.RootSqlAsync(true, "START SLAVE SQL_THREAD");
        }

        // With a wait configured the read goes to the replica once MASTER_GTID_WAIT says it has the write.
        await using var waiting = Catalog(database, o => o.Routing.ReadYourWrites.Wait = TimeSpan.FromSeconds(2));
        await waiting.GetEngine("shop").RefreshTopologyAsync();
        using (ReadYourWritesContext.Begin())
        {
            for (var id = 10; id < 14; id++)
            {
                await using (var write = waiting.OpenSession("shop"))
                {
                    await write.ExecuteAsync("INSERT INTO items VALUES (@id, 'w')", new { id });
                    await write.CommitAsync();
                }

                await using var read = waiting.OpenSession("shop", SessionIntent.ReadOnly);
                Assert.Equal((_pair.ReplicaPort, 1L), await ReadAsync(read, id));
            }
        }
    }
}

/// <summary>A switchover on a MariaDB pair of its own: the primary turned read-only, the replica promoted.</summary>
public sealed class MariaDbSwitchoverTests : IAsyncLifetime
{
    private MariaDbReplicaPair _pair = null!;

    public async Task InitializeAsync() => _pair = await MariaDbReplicaPair.StartAsync();

    public async Task DisposeAsync() => await _pair.DisposeAsync();

    [Fact]
    public async Task A_write_refused_as_read_only_triggers_a_recheck_and_no_read_only_connection_reaches_a_writer_again()
    {
        var database = $"switch_{Guid.NewGuid().ToString("N")[..8]}";
        await _pair.ScalarAsync<long>(false, $"CREATE DATABASE `{database}`; SELECT 1");
        await _pair.ScalarAsync<long>(false, "CREATE TABLE items (id int PRIMARY KEY); SELECT 1", database);
        var position = await _pair.ScalarAsync<string>(false, "SELECT @@gtid_binlog_pos");
        Assert.Equal(0L, await _pair.ScalarAsync<long>(true, $"SELECT MASTER_GTID_WAIT('{position}', 10)"));

        // A long interval: only a session's failure can make the monitor look again in time.
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("shop", _pair.Url(database), o =>
            {
                o.Replicas = [_pair.ReplicaHost];
                o.Routing.MonitorInterval = TimeSpan.FromMinutes(10);
                o.Routing.RecheckInterval = TimeSpan.FromMilliseconds(20);
            })
            .Build();
        var engine = catalog.GetEngine("shop");
        var warm = Enumerable.Range(0, 4).Select(_ => catalog.OpenSession("shop")).ToList();
        foreach (var s in warm)
        {
            await s.ExecuteScalarAsync<int>("SELECT 1");
        }

        foreach (var s in warm)
        {
            await s.DisposeAsync();
        }

        await _pair.RootSqlAsync(false, "SET GLOBAL read_only = 1");
        await _pair.RootSqlAsync(true, "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0");

        // The pooled connections still point at the old primary, now read-only: the first write is refused...
        await using (var session = catalog.OpenSession("shop"))
        {
            var error = await Assert.ThrowsAsync<DatabaseCommandException>(() => session.ExecuteAsync("INSERT INTO items VALUES (1)"));
            Assert.Equal(DatabaseErrorKind.ReadOnlyTransaction, error.Kind);
        }

        // ...which makes the monitor check at once (not in ten minutes) and purge that pool.
        await Wait.UntilAsync(() => engine.GetHostStatuses()[1].IsPrimary, TimeSpan.FromSeconds(5), "the promoted replica is seen as primary");
        Assert.Equal(HostRole.Replica, engine.GetHostStatuses()[0].Role);
        Assert.Equal("read-only and not replicating", engine.GetHostStatuses()[0].Error); // the demoted primary says why it is no primary
        Assert.True(engine.GetHostStatuses()[0].PoolClears >= 1);
        for (var id = 2; id < 10; id++)
        {
            await using var session = catalog.OpenSession("shop");
            await session.ExecuteAsync("INSERT INTO items VALUES (@id)", new { id });
            Assert.Equal(_pair.ReplicaPort, await session.ExecuteScalarAsync<int>("SELECT @@port"));
            await session.CommitAsync();
        }
    }
}

/// <summary>One MariaDB pair for the tests of a class that leave it as they found it.</summary>
public sealed class MariaDbPairFixture : IAsyncLifetime
{
    public MariaDbReplicaPair Pair { get; private set; } = null!;

    public async Task InitializeAsync() => Pair = await MariaDbReplicaPair.StartAsync();

    public async Task DisposeAsync() => await Pair.DisposeAsync();
}
