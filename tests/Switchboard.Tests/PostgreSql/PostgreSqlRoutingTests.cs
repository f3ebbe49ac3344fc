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

    [Fact]
    public async Task Read_your_writes_waits_a_bounded_time_for_a_replica_then_reads_on_the_primary()
    {
        var database = await DatabaseWithTableAsync("rywwait");
        await using var catalog = Catalog(database, o =>
        {
            o.Routing.MaxReplicaLag = Timeout.InfiniteTimeSpan;
            o.Routing.ReadYourWrites.Wait = TimeSpan.FromMilliseconds(400);
        });
        await catalog.GetEngine("orders").RefreshTopologyAsync();
        await _cluster.PauseReplayAsync(2);
        try
        {
            // Let the monitor see node 2 fall behind, so that it is not the replica a read waits on.
            await using (var write = catalog.OpenSession("orders"))
            {
                await write.ExecuteAsync("INSERT INTO items VALUES (100, 'w')");
                await write.CommitAsync();
            }

            await Wait.UntilAsync(() => Status(catalog, _cluster.Ports[2]).Lag > TimeSpan.Zero, Patience, "node 2 lags");
            using var context = ReadYourWritesContext.Begin();
            for (var id = 1; id <= 4; id++)
            {
                await using (var write = catalog.OpenSession("orders"))
                {
                    await write.ExecuteAsync("INSERT INTO items VALUES (@id, 'w')", new { id });
                    await write.CommitAsync();
                }

                // Node 1 replays within milliseconds: the read waits for it rather than going to the primary.
                await using var read = catalog.OpenSession("orders", SessionIntent.ReadOnly);
                Assert.Equal((_cluster.Ports[1], 1L), await ReadAsync(read, id));
            }

            await _cluster.PauseReplayAsync(1);
            await using (var write = catalog.OpenSession("orders"))
            {
                await write.ExecuteAsync("INSERT INTO items VALUES (9, 'w')");
                await write.CommitAsync();
            }

            // Nobody can catch up now: after the bounded wait, the primary.
            var started = Stopwatch.GetTimestamp();
            await using (var read = catalog.OpenSession("orders", SessionIntent.ReadOnly))
            {
                Assert.Equal((_cluster.Ports[0], 1L), await ReadAsync(read, 9));
            }

            var waited = Stopwatch.GetElapsedTime(started);
            Assert.InRange(waited, TimeSpan.FromMilliseconds(380), TimeSpan.FromSeconds(3));
        }
        finally
        {
            await _cluster.ResumeReplayAsync(1);
            await _cluster.ResumeReplayAsync(2);
        }
    }

    [Fact]
    public async Task A_synchronous_first_session_waits_for_a_silent_replica_no_longer_than_the_check_timeout()
    {
        // Accepts connections and never answers: a blocking open waits for the whole connect timeout (20 s here).
        using var silent = new SilentServer();
        var silentHost = silent.Host;
        var database = await DatabaseWithTableAsync("silentfirst");
        await using var catalog = Catalog(database, o =>
        {
            o.Replicas = [_cluster.Host(1), silentHost];
            o.ConnectTimeout = TimeSpan.FromSeconds(20);
            o.Routing.CheckTimeout = TimeSpan.FromMilliseconds(500);
        });

        // The first session of the process runs the first topology check, from a synchronous call.
        var started = Stopwatch.StartNew();
        using (var read = catalog.OpenSession("orders", SessionIntent.ReadOnly))
        {
            Assert.Equal(_cluster.Ports[1], read.ExecuteScalar<int>("SELECT inet_server_port()"));
        }

        Assert.True(started.Elapsed < TimeSpan.FromSeconds(8), $"the first synchronous session took {started.Elapsed.TotalSeconds:0.0} s");
        var status = catalog.GetEngine("orders").GetHostStatuses().Single(h => h.Target.StartsWith(silentHost + "/", StringComparison.Ordinal));
        Assert.Contains("no answer within 500 ms", status.Error);

        // Later rounds wait for the check still open to the silent host, not for the driver's connect timeout.
        started.Restart();
        await catalog.GetEngine("orders").RefreshTopologyAsync();
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(4), $"a refresh took {started.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task Without_fallback_a_read_with_no_qualifying_replica_fails_naming_the_database()
    {
        var database = await DatabaseWithTableAsync("nofallback");
        await using var catalog = Catalog(database, o =>
        {
            o.Routing.MaxReplicaLag = TimeSpan.FromMilliseconds(300);
            o.Routing.FallbackToPrimary = false;
        });
        await catalog.GetEngine("orders").RefreshTopologyAsync();
        await _cluster.PauseReplayAsync(1);
        await _cluster.PauseReplayAsync(2);
        try
        {
            await using (var write = catalog.OpenSession("orders"))
            {
                await write.ExecuteAsync("INSERT INTO items VALUES (1, 'x')");
                await write.CommitAsync();
            }

            await Wait.UntilAsync(() => catalog.GetEngine("orders").GetHostStatuses().Count(h => h.Lag > TimeSpan.FromMilliseconds(300)) == 2,
                Patience, "both replicas lag");
            await using var read = catalog.OpenSession("orders", SessionIntent.ReadOnly);
            var error = await Assert.ThrowsAsync<NoReplicaException>(() => read.ExecuteScalarAsync<int>("SELECT 1"));
            Assert.Contains("'orders'", error.Message);
            Assert.Contains("FallbackToPrimary", error.Message);
            Assert.True(error.IsTransient);
            Assert.Equal(3, error.Hosts.Count);
        }
        finally
        {
            await _cluster.ResumeReplayAsync(1);
            await _cluster.ResumeReplayAsync(2);
        }
    }

    [Fact]
    public async Task Role_scopes_flow_across_await_and_into_tasks_and_end_with_their_using()
    {
        var database = await DatabaseWithTableAsync("scopes");
        await using var catalog = Catalog(database);

        async Task<int> PortAsync(SessionIntent? intent)
        {
            await Task.Yield();
            await using var s = intent is { } i ? catalog.OpenSession("orders", i) : catalog.OpenSession("orders");
            return await s.ExecuteScalarAsync<int>("SELECT inet_server_port()");
        }

        using (RoutingScope.UseRole(HostRole.Primary))
        {
            await Task.Delay(5);
            Assert.Equal(_cluster.Ports[0], await PortAsync(SessionIntent.ReadOnly));
            Assert.Equal(_cluster.Ports[0], await Task.Run(() => PortAsync(SessionIntent.ReadOnly)));
            using (RoutingScope.UseRole(HostRole.Replica))
            {
                // Inner scope: sessions without an intent are read-only, so they go to a replica; an explicit intent wins.
                await using var implicitRead = catalog.OpenSession("orders");
                Assert.Equal(SessionIntent.ReadOnly, implicitRead.Options.Intent);
                Assert.NotEqual(_cluster.Ports[0], await implicitRead.ExecuteScalarAsync<int>("SELECT inet_server_port()"));
                Assert.Equal(_cluster.Ports[0], await PortAsync(SessionIntent.ReadWrite));
            }

            Assert.Equal(HostRole.Primary, RoutingScope.Current?.Role);
            Assert.Equal(_cluster.Ports[0], await PortAsync(SessionIntent.ReadOnly));
        }

        Assert.Null(RoutingScope.Current);
        Assert.NotEqual(_cluster.Ports[0], await PortAsync(SessionIntent.ReadOnly));
        Assert.Equal(_cluster.Ports[0], await PortAsync(null));
    }

    [Fact]
    public async Task A_host_that_keeps_refusing_connections_is_skipped_by_its_circuit_breaker_then_probed_and_used_again()
    {
        var database = await DatabaseWithTableAsync("breaker");
        await using var catalog = Catalog(database, o =>
        {
            o.Routing.CircuitBreaker.FailureThreshold = 2;

            // Long enough for the 18 reads below to finish while the circuit is open on a loaded 2-core machine (with 1 s,
            // a clean-clone CI run once saw the break end during them, and the half-open probe counted as a failure).
            o.Routing.CircuitBreaker.BreakDuration = TimeSpan.FromSeconds(5);
        });
        var engine = catalog.GetEngine("orders");
        await engine.RefreshTopologyAsync();

        // Node 1 serves reads first: those successful opens stay in Polly's sampling window (30 s), and must not keep
        // the circuit closed once the failures start (they did: it opened only when they had aged out).
        var served = 0;
        for (var i = 0; i < 40 && served < 4; i++)
        {
            await using var read = catalog.OpenSession("orders", SessionIntent.ReadOnly);
            served += await read.ExecuteScalarAsync<int>("SELECT inet_server_port()") == _cluster.Ports[1] ? 1 : 0;
        }

        Assert.Equal(4, served);
        engine.Replicas!.Hosts[1].ClearPool(); // so that the next reads on node 1 need a new login

        // Node 1 now refuses new logins for 'app'. The monitor's connection, opened before, keeps working, so only the
        // breaker can tell routing to stay away.
        await _cluster.SetHbaOverrideAsync(1, "host all app 127.0.0.1/32 reject");
        try
        {
            var ports = new List<int>();
            for (var i = 0; i < 12; i++)
            {
                await using var read = catalog.OpenSession("orders", SessionIntent.ReadOnly);
                ports.Add(await read.ExecuteScalarAsync<int>("SELECT inet_server_port()"));
            }

            Assert.All(ports, p => Assert.Equal(_cluster.Ports[2], p));
            var status = Status(catalog, _cluster.Ports[1]);
            Assert.True(status.IsReachable);
            Assert.Equal(BreakerState.Open, status.Breaker);
            Assert.NotNull(status.BreakerRetryAfter);

            // While open, no connection attempt reaches node 1.
            var failures = engine.GetPoolStatistics().ConnectFailures;
            for (var i = 0; i < 6; i++)
            {
                await using var read = catalog.OpenSession("orders", SessionIntent.ReadOnly);
                Assert.Equal(_cluster.Ports[2], await read.ExecuteScalarAsync<int>("SELECT inet_server_port()"));
            }

            Assert.Equal(failures, engine.GetPoolStatistics().ConnectFailures);
        }
        finally
        {
            await _cluster.SetHbaOverrideAsync(1, null);
        }

        // After the break a read probes node 1, succeeds, and the circuit closes.
        await Wait.UntilAsync(async () =>
        {
            await using var read = catalog.OpenSession("orders", SessionIntent.ReadOnly);
            await read.ExecuteScalarAsync<int>("SELECT 1");
            return Status(catalog, _cluster.Ports[1]).Breaker == BreakerState.Closed;
        }, Patience, "node 1's circuit closes");
        var after = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            await using var read = catalog.OpenSession("orders", SessionIntent.ReadOnly);
            after.Add(await read.ExecuteScalarAsync<int>("SELECT inet_server_port()"));
        }

        Assert.Contains(_cluster.Ports[1], after);
    }

    [Fact]
    public async Task Switchboard_check_shows_each_host_with_its_role_lag_and_breaker()
    {
        var database = await DatabaseWithTableAsync("check");
        using var cli = new Cli.CliRunner();
        cli.WriteConfig($$"""
            { "Databases": { "orders": {
                "Url": "{{_cluster.Url(0, database)}}",
                "Replicas": [ "{{_cluster.Host(1)}}", "postgresql://127.0.0.1:{{_cluster.Ports[2]}}" ],
                "Routing": { "ReadPolicy": "LowestLag", "MaxReplicaLag": "5s" } } } }
            """);
        var (exit, json, error) = await cli.RunAsync("check", "--json");
        Assert.True(exit == 0, error + json);
        using var document = System.Text.Json.JsonDocument.Parse(json);
        var hosts = document.RootElement[0].GetProperty("hosts").EnumerateArray().ToList();
        Assert.Equal(3, hosts.Count);
        Assert.Equal(["primary", "replica", "replica"], hosts.Select(h => h.GetProperty("role").GetString()));
        Assert.All(hosts, h => Assert.Equal("closed", h.GetProperty("breaker").GetString()));
        Assert.All(hosts.Skip(1), h => Assert.True(h.GetProperty("lagMs").GetDouble() >= 0));
        Assert.DoesNotContain(_cluster.Password, json);

        var (tableExit, table, _) = await cli.RunAsync("check");
        Assert.Equal(0, tableExit);
        Assert.Contains($"127.0.0.1:{_cluster.Ports[1]}", table);
        Assert.Contains("replica", table);
        Assert.Contains("primary", table);
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
