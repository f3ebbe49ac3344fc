using System.Collections.Concurrent;
using System.Diagnostics;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.PostgreSql;

/// <summary>
/// Failover on a real streaming-replication cluster of each test's own (the tests stop and promote its servers):
/// a primary (node 0), its synchronous standby (node 1) and an asynchronous one (node 2).
/// </summary>
public sealed class PostgreSqlFailoverTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static SwitchboardCatalog Catalog(PgReplicaCluster cluster, string database) =>
        SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", cluster.Url(0, database), o =>
            {
                o.Replicas = [cluster.Host(1), cluster.Host(2)];
                o.Routing.MonitorInterval = TimeSpan.FromMilliseconds(250);
                o.Routing.RecheckInterval = TimeSpan.FromMilliseconds(20);
                o.Routing.CheckTimeout = TimeSpan.FromSeconds(1);
                o.Pool.MaxSize = 10;
            })
            .Build();

    private static async Task<string> PrepareAsync(PgReplicaCluster cluster)
    {
        var database = await cluster.CreateDatabaseAsync("failover");
        await cluster.ExecuteAsync(0, "CREATE TABLE items (id int PRIMARY KEY)", database);
        await cluster.WaitForReplayAsync();
        return database;
    }

    [Fact]
    public async Task After_the_primary_dies_and_a_standby_is_promoted_writes_resume_on_it_with_no_acknowledged_write_lost()
    {
        await using var cluster = await PgReplicaCluster.StartAsync();
        var database = await PrepareAsync(cluster);
        await using var catalog = Catalog(cluster, database);
        var engine = catalog.GetEngine("orders");
        await engine.RefreshTopologyAsync();

        // The failover counter, for this cluster's hosts (their ports are unique to it).
        var failovers = new ConcurrentBag<string>();
        using var meters = new System.Diagnostics.Metrics.MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == SwitchboardDiagnostics.MeterName && instrument.Name == "switchboard.failovers")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "server.address" && tag.Value is string address && cluster.Ports.Any(p => address.Contains(":" + p + "/", StringComparison.Ordinal)))
                {
                    failovers.Add(address);
                }
            }
        });
        meters.Start();

        var acknowledged = new ConcurrentBag<int>();
        var writeErrors = new ConcurrentBag<Exception>();
        var readsAfterKill = 0;
        var killed = false;
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var id = 1; !stop.IsCancellationRequested; id++)
            {
                try
                {
                    await using var session = catalog.OpenSession("orders");
                    await session.ExecuteAsync("INSERT INTO items VALUES (@id)", new { id });
                    await session.CommitAsync();
                    acknowledged.Add(id);
                }
                catch (SwitchboardException e)
                {
                    writeErrors.Add(e);
                    await Task.Delay(5);
                }
            }
        });
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await using var session = catalog.OpenSession("orders", SessionIntent.ReadOnly);
                await session.ExecuteScalarAsync<long>("SELECT count(*) FROM items");
                if (Volatile.Read(ref killed))
                {
                    Interlocked.Increment(ref readsAfterKill);
                }
            }
        });

        await Wait.UntilAsync(() => acknowledged.Count >= 50, Patience, "the writer has written");
        await cluster.StopNodeAsync(0, "immediate");
        Volatile.Write(ref killed, true);

        // No primary: a read-write session fails at once with an error naming the database, and reads carry on.
        await Wait.UntilAsync(() => engine.GetHostStatuses()[0].IsReachable == false, Patience, "the monitor sees the primary gone");
        var started = Stopwatch.GetTimestamp();
        await using (var session = catalog.OpenSession("orders"))
        {
            var error = await Assert.ThrowsAsync<NoPrimaryException>(() => session.ExecuteAsync("INSERT INTO items VALUES (-1)"));
            Assert.Contains("'orders'", error.Message);
            Assert.DoesNotContain(cluster.Password, error.ToString());
        }

        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(1), $"failed after {Stopwatch.GetElapsedTime(started)}");
        await Wait.UntilAsync(() => Volatile.Read(ref readsAfterKill) >= 20, Patience, "reads go on without the primary");

        var countBeforePromotion = acknowledged.Count;
        await cluster.PromoteAsync(1);
        await Wait.UntilAsync(() => acknowledged.Count >= countBeforePromotion + 50, Patience, "writes resume on the promoted standby");
        await stop.CancelAsync();
        await Task.WhenAll(writer, reader);

        // Every acknowledged write is on the new primary (synchronous replication to node 1).
        var ids = acknowledged.ToArray();
        Assert.Equal(ids.Length, await cluster.ScalarAsync<long>(1, $"SELECT count(*) FROM items WHERE id IN ({string.Join(',', ids)})", database));
        await using (var session = catalog.OpenSession("orders"))
        {
            Assert.Equal(cluster.Ports[1], await session.ExecuteScalarAsync<int>("SELECT inet_server_port()"));
        }

        Assert.Equal(cluster.Target(1, database), Assert.Single(failovers)); // one failover, to node 1

        var statuses = engine.GetHostStatuses();
        Assert.False(statuses[0].IsReachable);
        Assert.True(statuses[0].PoolClears >= 1, "the dead primary's pool was purged");
        Assert.True(statuses[1].IsPrimary);
        Assert.All(writeErrors, e => Assert.Equal("orders", ((SwitchboardException)e).DatabaseName));
        Assert.All(writeErrors, e => Assert.True(e is NoPrimaryException or DatabaseConnectionException
            or DatabaseCommandException { Kind: DatabaseErrorKind.ConnectionLost }, e.GetType().Name + ": " + e.Message));
    }

    [Fact]
    public async Task In_a_split_brain_a_new_process_writes_to_the_last_promoted_primary_and_check_fails()
    {
        // Node 1 is promoted while node 0, listed first, keeps running as a primary: a split brain, as after an old
        // primary comes back unfenced. Node 0 stays on timeline 1; node 1 is on timeline 2.
        await using var cluster = await PgReplicaCluster.StartAsync(standbys: 1);
        var database = await cluster.CreateDatabaseAsync("split");
        await cluster.ExecuteAsync(0, "CREATE TABLE items (id int PRIMARY KEY)", database);
        await cluster.WaitForReplayAsync();
        await cluster.PromoteAsync(1);
        await Wait.UntilAsync(async () => !await cluster.ScalarAsync<bool>(1, "SELECT pg_is_in_recovery()"), Patience, "node 1 is promoted");

        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", cluster.Url(0, database), o => o.Replicas = [cluster.Host(1)])
            .Build();
        await using (var session = catalog.OpenSession("orders"))
        {
            Assert.Equal(cluster.Ports[1], await session.ExecuteScalarAsync<int>("SELECT inet_server_port()"));
            await session.ExecuteAsync("INSERT INTO items VALUES (1)");
            await session.CommitAsync();
        }

        Assert.Equal(0, await cluster.ScalarAsync<long>(0, "SELECT count(*) FROM items", database));
        var check = Assert.Single(await catalog.CheckAsync());
        Assert.False(check.Ok);
        Assert.Contains("several hosts report themselves primary", check.Error);
        Assert.Contains(cluster.Target(1, database), check.Error);
        Assert.All(check.Hosts!, h => Assert.Equal(HostRole.Primary, h.Role));
    }

    [Fact]
    public async Task A_primary_that_restarts_gets_writes_again_from_a_purged_pool_without_an_application_restart()
    {
        await using var cluster = await PgReplicaCluster.StartAsync(standbys: 1);
        var database = await cluster.CreateDatabaseAsync("restart");
        await cluster.ExecuteAsync(0, "CREATE TABLE items (id int PRIMARY KEY)", database);
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", cluster.Url(0, database), o =>
            {
                o.Replicas = [cluster.Host(1)];
                o.Routing.MonitorInterval = TimeSpan.FromMilliseconds(250);
                o.Routing.RecheckInterval = TimeSpan.FromMilliseconds(20);
            })
            .Build();
        var engine = catalog.GetEngine("orders");

        // Several idle connections to the primary in the pool: after the restart every one of them is dead.
        var sessions = Enumerable.Range(0, 5).Select(_ => catalog.OpenSession("orders")).ToList();
        foreach (var s in sessions)
        {
            await s.ExecuteScalarAsync<int>("SELECT 1");
        }

        foreach (var s in sessions)
        {
            await s.DisposeAsync();
        }

        var clearsBefore = engine.GetHostStatuses()[0].PoolClears;
        await cluster.StopNodeAsync(0, "immediate");
        await using (var session = catalog.OpenSession("orders"))
        {
            await Assert.ThrowsAnyAsync<SwitchboardException>(() => session.ExecuteAsync("INSERT INTO items VALUES (0)"));
        }

        await Wait.UntilAsync(() => !engine.GetHostStatuses()[0].IsReachable, Patience, "the primary is seen gone");
        await using (var session = catalog.OpenSession("orders"))
        {
            await Assert.ThrowsAsync<NoPrimaryException>(() => session.ExecuteAsync("INSERT INTO items VALUES (0)"));
        }

        await cluster.StartNodeAsync(0);
        await Wait.UntilAsync(() => engine.GetHostStatuses()[0].IsPrimary, Patience, "the primary is back");

        // Each of these would fail on a stale pooled connection if the pool had not been purged.
        for (var id = 1; id <= 10; id++)
        {
            await using var session = catalog.OpenSession("orders");
            await session.ExecuteAsync("INSERT INTO items VALUES (@id)", new { id });
            await session.CommitAsync();
        }

        Assert.True(engine.GetHostStatuses()[0].PoolClears >= clearsBefore + 1);
        Assert.Equal(10L, await cluster.ScalarAsync<long>(0, "SELECT count(*) FROM items", database));
    }
}
