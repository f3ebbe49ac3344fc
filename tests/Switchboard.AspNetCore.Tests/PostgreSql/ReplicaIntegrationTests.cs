using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Contracts;
using Switchboard.AspNetCore.Tests.Infrastructure;
using Switchboard.EntityFrameworkCore;
using Switchboard.Extensions.DependencyInjection;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.PostgreSql;

/// <summary>
/// A web app over real Kestrel on a real streaming-replication cluster (tests/rig/pg-replicas.sh: a primary, node 1 the
/// synchronous standby, node 2 an asynchronous one): per-host health checks, and EF Core contexts on primary and replica.
/// Every test leaves the cluster as it found it.
/// </summary>
[Collection(PgReplicasCollection.Name)]
public sealed class ReplicaIntegrationTests(PgReplicaClusterFixture fixture)
{
    private readonly PgReplicaCluster _cluster = fixture.Cluster;

    private Task<RunningApp> StartAppAsync(string database, Action<SwitchboardHealthCheckOptions>? health = null,
        Dictionary<string, string?>? settings = null) =>
        RunningApp.StartAsync(
            builder =>
            {
                var config = new Dictionary<string, string?>
                {
                    ["Databases:orders:Url"] = _cluster.Url(0, database),
                    ["Databases:orders:Replicas:0"] = _cluster.Host(1),
                    ["Databases:orders:Replicas:1"] = _cluster.Host(2),
                    ["Databases:orders:Routing:MonitorInterval"] = "200ms",
                };
                foreach (var (key, value) in settings ?? [])
                {
                    config[key] = value;
                }

                builder.Configuration.AddInMemoryCollection(config);
                builder.Services.AddSwitchboard(builder.Configuration.GetSection("Databases")).AddHealthChecks(o =>
                {
                    o.Timeout = TimeSpan.FromSeconds(3);
                    health?.Invoke(o);
                });
                builder.Services.AddSwitchboardDbContext<ShopDb>("orders");
            },
            app =>
            {
                app.MapHealthChecks("/health", new() { ResponseWriter = SwitchboardHealthResponse.WriteAsync });
                app.MapHealthChecks("/health/replicas", new() { Predicate = r => r.Tags.Contains("replica"), ResponseWriter = SwitchboardHealthResponse.WriteAsync });
                app.MapGet("/ef/{intent}", async (string intent, ISwitchboardDbContextFactory<ShopDb> factory) =>
                {
                    await using var db = factory.CreateDbContext(Enum.Parse<SessionIntent>(intent));
                    return new
                    {
                        recovery = await db.Database.SqlQueryRaw<bool>("SELECT pg_is_in_recovery() AS \"Value\"").SingleAsync(),
                        port = await db.Database.SqlQueryRaw<int>("SELECT inet_server_port() AS \"Value\"").SingleAsync(),
                        items = await db.Items.CountAsync(),
                    };
                });
                app.MapPost("/ef/{intent}/items/{id:int}", async (string intent, int id, ISwitchboardDbContextFactory<ShopDb> factory) =>
                {
                    await using var db = factory.CreateDbContext(Enum.Parse<SessionIntent>(intent));
                    db.Items.Add(new Item { Id = id, Name = "item " + id });
                    try
                    {
                        await db.SaveChangesAsync();
                    }
                    catch (InvalidOperationException e)
                    {
                        return Results.Conflict(new { error = e.Message });
                    }

                    return Results.Ok(new { port = await db.Database.SqlQueryRaw<int>("SELECT inet_server_port() AS \"Value\"").SingleAsync() });
                });
            });

    private static JsonElement Check(string body, string name) => JsonDocument.Parse(body).RootElement.GetProperty("checks").GetProperty(name);

    private static string Overall(string body) => JsonDocument.Parse(body).RootElement.GetProperty("status").GetString()!;

    private string HostCheck(int node) => $"orders/127.0.0.1:{_cluster.Ports[node]}";

    [Fact]
    public async Task Health_has_a_check_per_host_and_a_stopped_replica_turns_unhealthy_then_healthy_again()
    {
        var database = await _cluster.CreateDatabaseAsync("health");
        await using var app = await StartAppAsync(database);

        // Right after start a replica's lag is not known yet (Degraded) until the monitor has sampled the primary's position.
        var (status, body) = await Http.PollAsync(app.Client, "/health", (_, b) => Overall(b) == "Healthy", TimeSpan.FromSeconds(15));
        Assert.Equal(200, status);
        Assert.Equal("Healthy", Overall(body));
        var orders = Check(body, "orders");
        Assert.Equal("primary", orders.GetProperty("data").GetProperty("role").GetString());
        Assert.Equal(_cluster.Target(0, database), orders.GetProperty("data").GetProperty("target").GetString());
        Assert.Equal(3, orders.GetProperty("data").GetProperty("hosts").GetInt32());

        var primary = Check(body, HostCheck(0));
        Assert.Equal("Healthy", primary.GetProperty("status").GetString());
        Assert.Equal("primary", primary.GetProperty("data").GetProperty("role").GetString());
        Assert.Contains("primary", primary.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        foreach (var node in new[] { 1, 2 })
        {
            var replica = Check(body, HostCheck(node));
            Assert.Equal("Healthy", replica.GetProperty("status").GetString());
            var data = replica.GetProperty("data");
            Assert.Equal("replica", data.GetProperty("role").GetString());
            Assert.Equal(_cluster.Target(node, database), data.GetProperty("target").GetString());
            Assert.True(data.GetProperty("latency_ms").GetDouble() > 0);
            Assert.True(data.GetProperty("lag_ms").GetDouble() >= 0);
            Assert.Equal(["switchboard", "orders", "postgresql", "host", "replica"], replica.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        }

        Assert.DoesNotContain(_cluster.Password, body);
        var replicasOnly = JsonDocument.Parse(await app.Client.GetStringAsync("/health/replicas")).RootElement.GetProperty("checks");
        Assert.Equal(new[] { HostCheck(1), HostCheck(2) }.Order(), replicasOnly.EnumerateObject().Select(p => p.Name).Order());

        await _cluster.StopNodeAsync(2);
        try
        {
            (status, body) = await Http.PollAsync(app.Client, "/health",
                (_, b) => Check(b, HostCheck(2)).GetProperty("status").GetString() == "Unhealthy", TimeSpan.FromSeconds(20));
            Assert.Equal(503, status);
            var stopped = Check(body, HostCheck(2));
            Assert.Equal("Unhealthy", stopped.GetProperty("status").GetString());
            Assert.Contains($"127.0.0.1:{_cluster.Ports[2]}", stopped.GetProperty("description").GetString());
            Assert.Equal("Healthy", Check(body, "orders").GetProperty("status").GetString());
            Assert.Equal("Healthy", Check(body, HostCheck(0)).GetProperty("status").GetString());
            Assert.Equal("Healthy", Check(body, HostCheck(1)).GetProperty("status").GetString());
            Assert.DoesNotContain(_cluster.Password, body);
        }
        finally
        {
            await _cluster.StartNodeAsync(2);
        }

        (status, body) = await Http.PollAsync(app.Client, "/health", (_, b) => Overall(b) == "Healthy", TimeSpan.FromSeconds(30));
        Assert.Equal(200, status);
        Assert.Equal("Healthy", Overall(body));
        Assert.Equal("Healthy", Check(body, HostCheck(2)).GetProperty("status").GetString());
        Assert.Equal("replica", Check(body, HostCheck(2)).GetProperty("data").GetProperty("role").GetString());
        await _cluster.WaitForReplayAsync();
    }

    [Fact]
    public async Task A_replica_lagging_past_the_limit_reports_degraded()
    {
        var database = await _cluster.CreateDatabaseAsync("healthlag");
        await _cluster.ExecuteAsync(0, "CREATE TABLE ticks (n int)", database);
        await _cluster.WaitForReplayAsync();
        await using var app = await StartAppAsync(database, o => o.MaxReplicaLag = TimeSpan.FromMilliseconds(300));
        var (_, first) = await Http.PollAsync(app.Client, "/health", (_, b) => Overall(b) == "Healthy", TimeSpan.FromSeconds(15));
        Assert.Equal("Healthy", Overall(first));

        await _cluster.PauseReplayAsync(2);
        try
        {
            await _cluster.ExecuteAsync(0, "INSERT INTO ticks VALUES (1)", database);
            string body;
            (_, body) = await Http.PollAsync(app.Client, "/health",
                (_, b) => Check(b, HostCheck(2)).GetProperty("status").GetString() == "Degraded", TimeSpan.FromSeconds(15));
            var lagging = Check(body, HostCheck(2));
            Assert.Equal("Degraded", lagging.GetProperty("status").GetString());
            Assert.Contains("exceeds 300 ms", lagging.GetProperty("description").GetString());
            Assert.True(lagging.GetProperty("data").GetProperty("lag_ms").GetDouble() > 300);
            Assert.Equal("Healthy", Check(body, HostCheck(1)).GetProperty("status").GetString());
        }
        finally
        {
            await _cluster.ResumeReplayAsync(2);
        }

        await _cluster.WaitForReplayAsync();
        var (_, healthy) = await Http.PollAsync(app.Client, "/health",
            (_, b) => Check(b, HostCheck(2)).GetProperty("status").GetString() == "Healthy", TimeSpan.FromSeconds(15));
        Assert.Equal("Healthy", Check(healthy, HostCheck(2)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Sessions_on_a_replicated_database_count_routing_decisions_by_role_and_intent()
    {
        using var capture = new TelemetryCapture();
        var database = await _cluster.CreateDatabaseAsync("routemetrics");
        await using var app = await StartAppAsync(database);
        var catalog = app.Services.GetRequiredService<SwitchboardCatalog>();
        await using (var write = catalog.OpenSession("orders"))
        {
            Assert.False(await write.ExecuteScalarAsync<bool>("SELECT pg_is_in_recovery()"));
        }

        await using (var read = catalog.OpenSession("orders", SessionIntent.ReadOnly))
        {
            Assert.True(await read.ExecuteScalarAsync<bool>("SELECT pg_is_in_recovery()"));
        }

        // Only this collection's apps have a replicated "orders", and its tests run one at a time.
        var decisions = capture.For("switchboard.routing.decisions", "orders");
        Assert.Contains(decisions, d => Equals(d.Tags["switchboard.role"], "primary") && Equals(d.Tags["switchboard.session.intent"], "read_write"));
        Assert.Contains(decisions, d => Equals(d.Tags["switchboard.role"], "replica") && Equals(d.Tags["switchboard.session.intent"], "read_only"));
    }

    [Fact]
    public async Task EF_Core_contexts_on_primary_and_replica()
    {
        var database = await _cluster.CreateDatabaseAsync("efrepl");
        await using var app = await StartAppAsync(database);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await using var db = scope.ServiceProvider.GetRequiredService<ISwitchboardDbContextFactory<ShopDb>>().CreateDbContext();
            await db.Database.EnsureCreatedAsync();
        }

        // Read-write: the primary.
        using (var write = await app.Client.PostAsync("/ef/ReadWrite/items/1", null))
        {
            Assert.Equal(200, (int)write.StatusCode);
            Assert.Equal(_cluster.Ports[0], (await write.JsonAsync()).GetProperty("port").GetInt32());
        }

        var primary = await (await app.Client.GetAsync("/ef/ReadWrite")).JsonAsync();
        Assert.False(primary.GetProperty("recovery").GetBoolean());
        Assert.Equal(_cluster.Ports[0], primary.GetProperty("port").GetInt32());

        // Read-only: the replicas (round robin over both), which see the row once they have replayed it.
        await _cluster.WaitForReplayAsync();
        var ports = new HashSet<int>();
        for (var i = 0; i < 8; i++)
        {
            var read = await (await app.Client.GetAsync("/ef/ReadOnly")).JsonAsync();
            Assert.True(read.GetProperty("recovery").GetBoolean());
            Assert.Equal(1, read.GetProperty("items").GetInt32());
            ports.Add(read.GetProperty("port").GetInt32());
        }

        Assert.Equal(new[] { _cluster.Ports[1], _cluster.Ports[2] }.Order(), ports.Order());

        // A read-only context refuses to save, before anything reaches a server.
        using var refused = await app.Client.PostAsync("/ef/ReadOnly/items/2", null);
        Assert.Equal(409, (int)refused.StatusCode);
        Assert.Contains("read-only", await refused.Content.ReadAsStringAsync());
        Assert.Equal(1L, await _cluster.ScalarAsync<long>(0, "SELECT count(*) FROM items", database));
    }

    [Fact]
    public async Task Read_only_contexts_fall_back_to_the_primary_only_when_the_routing_options_allow()
    {
        var database = await _cluster.CreateDatabaseAsync("effallback");

        // Every replica is "too far behind" for a 1 ms lag limit only while replay is paused and the primary writes on.
        await _cluster.ExecuteAsync(0, "CREATE TABLE ticks (n int)", database);
        await _cluster.WaitForReplayAsync();
        await using var strict = await StartAppAsync(database, settings: new()
        {
            ["Databases:orders:Routing:MaxReplicaLag"] = "1ms",
            ["Databases:orders:Routing:FallbackToPrimary"] = "false",
        });
        await using var lenient = await StartAppAsync(database, settings: new() { ["Databases:orders:Routing:MaxReplicaLag"] = "1ms" });
        var engine = lenient.Services.GetRequiredService<SwitchboardCatalog>().GetEngine("orders");
        var strictEngine = strict.Services.GetRequiredService<SwitchboardCatalog>().GetEngine("orders");

        // The monitors must have sampled the primary's position before the replicas stop replaying: lag is measured from
        // the first sample past a replica's position, and a position older than every sample has no known lag.
        await engine.RefreshTopologyAsync();
        await strictEngine.RefreshTopologyAsync();
        await _cluster.PauseReplayAsync(1);
        await _cluster.PauseReplayAsync(2);
        try
        {
            await Wait.UntilAsync(async () =>
            {
                await _cluster.ExecuteAsync(0, "INSERT INTO ticks VALUES (1)", database);
                await engine.RefreshTopologyAsync();
                await strictEngine.RefreshTopologyAsync();
                return engine.GetHostStatuses().Skip(1).All(h => h.Lag > TimeSpan.FromMilliseconds(20))
                    && strictEngine.GetHostStatuses().Skip(1).All(h => h.Lag > TimeSpan.FromMilliseconds(20));
            }, TimeSpan.FromSeconds(15), "both replicas lag");

            var fallback = lenient.Services.GetRequiredService<ISwitchboardDbContextFactory<ShopDb>>();
            await using (var db = fallback.CreateDbContext(SessionIntent.ReadOnly))
            {
                Assert.False(await db.Database.SqlQueryRaw<bool>("SELECT pg_is_in_recovery() AS \"Value\"").SingleAsync());
            }

            var noFallback = strict.Services.GetRequiredService<ISwitchboardDbContextFactory<ShopDb>>();
            // The host is chosen when the context is created, so that is where it fails, naming the database and every host.
            var e = Assert.Throws<NoReplicaException>(() => noFallback.CreateDbContext(SessionIntent.ReadOnly));
            Assert.Contains("'orders'", e.Message);
            Assert.Contains("FallbackToPrimary is off", e.Message);
            Assert.DoesNotContain(_cluster.Password, e.Message);
            await using (var db = noFallback.CreateDbContext(SessionIntent.ReadWrite))
            {
                Assert.False(await db.Database.SqlQueryRaw<bool>("SELECT pg_is_in_recovery() AS \"Value\"").SingleAsync());
            }
        }
        finally
        {
            await _cluster.ResumeReplayAsync(1);
            await _cluster.ResumeReplayAsync(2);
        }

        await _cluster.WaitForReplayAsync();
    }
}
