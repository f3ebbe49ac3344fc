using System.Diagnostics;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.PostgreSql;

/// <summary>
/// Read/write splitting, lag limits, read-your-writes, scopes and circuit breakers on a real streaming-replication
/// cluster: a primary (node 0) and two hot standbys (nodes 1 and 2). Every test leaves the cluster as it found it.
/// </summary>
[Collection(PgReplicasCollection.Name)]
public sealed class PostgreSqlRoutingTests(PgReplicaClusterFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private readonly PgReplicaCluster _cluster = fixture.Cluster;

    private SwitchboardCatalog Catalog(string database, Action<DatabaseOptions>? configure = null) =>
        SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", _cluster.Url(0, database), o =>
            {
                o.Replicas = [_cluster.Host(1), _cluster.Host(2)];
                o.Routing.MonitorInterval = TimeSpan.FromMilliseconds(100);
                configure?.Invoke(o);
            })
            .Build();

    private async Task<string> DatabaseWithTableAsync(string prefix)
    {
        var database = await _cluster.CreateDatabaseAsync(prefix);
        await _cluster.ExecuteAsync(0, "CREATE TABLE items (id int PRIMARY KEY, name text)", database);
        await _cluster.WaitForReplayAsync();
        return database;
    }

    private static HostStatus Status(SwitchboardCatalog catalog, int port) =>
        catalog.GetEngine("orders").GetHostStatuses().Single(h => h.Target.StartsWith($"127.0.0.1:{port}/", StringComparison.Ordinal));

    private static async Task<(int Port, long Count)> ReadAsync(DatabaseSession session, int id) =>
        (await session.ExecuteScalarAsync<int>("SELECT inet_server_port()"),
         await session.ExecuteScalarAsync<long>("SELECT count(*) FROM items WHERE id = @id", new { id }));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Reads_spread_over_the_replicas_and_writes_go_to_the_primary(bool async)
    {
        var database = await DatabaseWithTableAsync("spread");
        await using var catalog = Catalog(database);
        var readers = new List<int>();
        for (var i = 0; i < 12; i++)
        {
            using var session = catalog.OpenSession("orders", SessionIntent.ReadOnly);
            var port = async ? await session.ExecuteScalarAsync<int>("SELECT inet_server_port()") : session.ExecuteScalar<int>("SELECT inet_server_port()");
            Assert.Equal($"127.0.0.1:{port}/{database}", session.Target);
            Assert.True(async ? await session.ExecuteScalarAsync<bool>("SELECT pg_is_in_recovery()") : session.ExecuteScalar<bool>("SELECT pg_is_in_recovery()"));
            readers.Add(port);
        }

        Assert.Contains(_cluster.Ports[1], readers);
        Assert.Contains(_cluster.Ports[2], readers);
        Assert.DoesNotContain(_cluster.Ports[0], readers);

        for (var i = 0; i < 5; i++)
        {
            using var session = catalog.OpenSession("orders");
            if (async)
            {
                await session.ExecuteAsync("INSERT INTO items VALUES (@i, 'w')", new { i });
                Assert.Equal(_cluster.Ports[0], await session.ExecuteScalarAsync<int>("SELECT inet_server_port()"));
                await session.CommitAsync();
            }
            else
            {
                session.Execute("INSERT INTO items VALUES (@i, 'w')", new { i });
                Assert.Equal(_cluster.Ports[0], session.ExecuteScalar<int>("SELECT inet_server_port()"));
                session.Commit();
            }
        }

        Assert.Equal(5L, await _cluster.ScalarAsync<long>(0, "SELECT count(*) FROM items", database));
        var hosts = catalog.GetEngine("orders").GetHostStatuses();
        Assert.Equal([HostRole.Primary, HostRole.Replica, HostRole.Replica], hosts.Select(h => h.Role));
        Assert.Equal([true, false, false], hosts.Select(h => h.IsPrimary));
    }

    [Fact]
    public async Task Roles_come_from_the_servers_not_from_the_configuration()
    {
        var database = await DatabaseWithTableAsync("roles");

        // The configuration has it backwards: a standby as the URL's host, the primary among the replicas.
        await using var wrong = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", _cluster.Url(1, database), o => o.Replicas = [_cluster.Host(0), _cluster.Host(2)])
            .Build();
        await using (var write = wrong.OpenSession("orders"))
        {
            await write.ExecuteAsync("INSERT INTO items VALUES (1, 'x')");
            Assert.Equal(_cluster.Ports[0], await write.ExecuteScalarAsync<int>("SELECT inet_server_port()"));
            await write.CommitAsync();
        }

        var statuses = wrong.GetEngine("orders").GetHostStatuses();
        Assert.Equal(HostRole.Replica, statuses[0].Role);
        Assert.True(statuses[1].IsPrimary);
        Assert.Equal(HostRole.Primary, statuses[1].Role);

        // A multi-host URL with no roles at all: discovered.
        var multi = $"postgresql://app:{Uri.EscapeDataString(_cluster.Password)}@127.0.0.1:{_cluster.Ports[2]},127.0.0.1:{_cluster.Ports[0]},127.0.0.1:{_cluster.Ports[1]}/{database}";
        await using var discovered = SwitchboardCatalog.CreateBuilder().AddDatabase("orders", multi).Build();
        await using var session = discovered.OpenSession("orders");
        Assert.Equal(_cluster.Ports[0], await session.ExecuteScalarAsync<int>("SELECT inet_server_port()"));
        Assert.Equal([HostRole.Replica, HostRole.Primary, HostRole.Replica], discovered.GetEngine("orders").GetHostStatuses().Select(h => h.Role));
    }

    [Fact]
    public async Task A_replica_behind_by_more_than_MaxReplicaLag_gets_no_reads_until_it_catches_up()
    {
        var database = await DatabaseWithTableAsync("lag");
        await using var catalog = Catalog(database, o => o.Routing.MaxReplicaLag = TimeSpan.FromMilliseconds(400));
        await catalog.GetEngine("orders").RefreshTopologyAsync();
        await _cluster.PauseReplayAsync(2);
        try
        {
            await using (var write = catalog.OpenSession("orders"))
            {
                await write.ExecuteAsync("INSERT INTO items VALUES (1, 'x')");
                await write.CommitAsync();
            }

            await Wait.UntilAsync(() => Status(catalog, _cluster.Ports[2]).Lag > TimeSpan.FromMilliseconds(400), Patience, "node 2 lags");
            Assert.Equal("replay paused", Status(catalog, _cluster.Ports[2]).Error);
            for (var i = 0; i < 10; i++)
            {
                await using var read = catalog.OpenSession("orders", SessionIntent.ReadOnly);
                var (port, count) = await ReadAsync(read, 1);
                Assert.Equal(_cluster.Ports[1], port);
                Assert.Equal(1, count);
            }
        }
        finally
        {
            await _cluster.ResumeReplayAsync(2);
        }

        await Wait.UntilAsync(() => Status(catalog, _cluster.Ports[2]).Lag == TimeSpan.Zero, Patience, "node 2 catches up");
        var ports = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            await using var read = catalog.OpenSession("orders", SessionIntent.ReadOnly);
            ports.Add(await read.ExecuteScalarAsync<int>("SELECT inet_server_port()"));
        }

        Assert.Contains(_cluster.Ports[2], ports);
    }

    [Fact]
    public async Task A_read_right_after_a_write_sees_it_while_an_unrelated_read_may_use_a_lagging_replica()
    {
        var database = await DatabaseWithTableAsync("ryw");
        await using var catalog = Catalog(database, o => o.Routing.MaxReplicaLag = Timeout.InfiniteTimeSpan);
        await catalog.GetEngine("orders").RefreshTopologyAsync();
        await _cluster.PauseReplayAsync(1);
        await _cluster.PauseReplayAsync(2);
        ConsistencyToken token;
        try
        {
            using (ReadYourWritesContext.Begin())
            {
                await using (var write = catalog.OpenSession("orders"))
                {
                    await write.ExecuteAsync("INSERT INTO items VALUES (7, 'mine')");
                    await write.CommitAsync();
                }

                for (var i = 0; i < 4; i++)
                {
                    await using var read = catalog.OpenSession("orders", SessionIntent.ReadOnly);
                    var (port, count) = await ReadAsync(read, 7);
                    Assert.Equal(1, count);
                    Assert.Equal(_cluster.Ports[0], port);
                }

                token = ReadYourWritesContext.Current!.Token;
                Assert.True(token.Positions.ContainsKey("orders"));

                // Outside the context (a task that starts its own flow without it) reads go to the lagging replicas.
                Task<List<(int Port, long Count)>> other;
                using (ExecutionContext.SuppressFlow())
                {
                    other = Task.Run(() => UnrelatedReadsAsync(catalog));
                }

                var unrelated = await other;
                Assert.All(unrelated, r => Assert.NotEqual(_cluster.Ports[0], r.Port));
                Assert.All(unrelated, r => Assert.Equal(0, r.Count));
            }

            Assert.Null(ReadYourWritesContext.Current);

            // The token, carried as text to a later request, keeps the guarantee.
            var carried = new ReadYourWritesContext(ConsistencyToken.Parse(token.ToString()));
            await using (var later = catalog.OpenSession("orders", new SessionOptions { Intent = SessionIntent.ReadOnly, ReadYourWrites = carried }))
            {
                Assert.Equal((_cluster.Ports[0], 1L), await ReadAsync(later, 7));
            }
        }
        finally
        {
            await _cluster.ResumeReplayAsync(1);
            await _cluster.ResumeReplayAsync(2);
        }

        // Once the monitor has seen the replicas past the write, reads in the context use them again.
        var resumed = new ReadYourWritesContext(token);
        await Wait.UntilAsync(async () =>
        {
            await using var read = catalog.OpenSession("orders", new SessionOptions { Intent = SessionIntent.ReadOnly, ReadYourWrites = resumed });
            var (port, count) = await ReadAsync(read, 7);
            Assert.Equal(1, count);
            return port != _cluster.Ports[0];
        }, Patience, "a read-your-writes read is served by a replica");
    }

    private static async Task<List<(int Port, long Count)>> UnrelatedReadsAsync(SwitchboardCatalog catalog)
    {
        Assert.Null(ReadYourWritesContext.Current);
        var results = new List<(int, long)>();
        for (var i = 0; i < 4; i++)
        {
            await using var read = catalog.OpenSession("orders", SessionIntent.ReadOnly);
            results.Add(await ReadAsync(read, 7));
        }

        return results;
    }
}
