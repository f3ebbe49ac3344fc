using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Switchboard.AspNetCore.Tests.Infrastructure;
using Switchboard.Sample.WebApi;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.PostgreSql;

/// <summary>
/// The sample itself with "orders" on a real streaming-replication cluster (a primary and two standbys): orders are
/// written on the primary and read back through its read-only EF Core context from a replica, and /health lists every
/// host. "legacy" and "audit" stay on SQLite files.
/// </summary>
[Collection(PgReplicasCollection.Name)]
public sealed class SampleOnReplicasTests(PgReplicaClusterFixture fixture)
{
    private readonly PgReplicaCluster _cluster = fixture.Cluster;

    [Fact]
    public async Task The_sample_writes_orders_on_the_primary_and_reads_them_from_a_replica()
    {
        var database = await _cluster.CreateDatabaseAsync("sample");
        var folder = Path.Combine(Path.GetTempPath(), "sb-sample-replicas-" + Guid.NewGuid().ToString("N")[..8]);
        var app = SampleApp.Create(["--urls=http://127.0.0.1:0", "--environment=Testing"], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Databases:orders:Url"] = _cluster.Url(0, database),
                ["Databases:orders:Replicas:0"] = _cluster.Host(1),
                ["Databases:orders:Replicas:1"] = _cluster.Host(2),
                ["Databases:orders:Routing:MonitorInterval"] = "200ms",
                ["Databases:legacy:Url"] = $"sqlite:///{folder}/legacy.db",
                ["Databases:audit:Url"] = $"sqlite:///{folder}/audit.db",
                ["Transactions:LogFolder"] = Path.Combine(folder, "transactions"),
            });
        });

        await using (var running = await RunningApp.StartAsync(app))
        {
            var created = await running.Client.PostJsonAsync("/orders", new { customer = "ada", sku = "KB-01", quantity = 2 });
            Assert.Equal(201, (int)created.StatusCode);
            var id = (await created.JsonAsync()).GetProperty("id").GetInt64();
            Assert.Equal(1, await _cluster.ScalarAsync<long>(0, $"SELECT COUNT(*) FROM orders WHERE id = {id}", database));

            // GET /orders runs on a read-only context, whose connection the read policy sends to a replica: once the
            // standbys have replayed the insert, it is there, and a standby holds the app's connection to this database.
            await _cluster.WaitForReplayAsync();
            var orders = JsonDocument.Parse(await running.Client.GetStringAsync("/orders")).RootElement;
            Assert.Contains(orders.EnumerateArray(), o => o.GetProperty("id").GetInt64() == id);
            var onReplicas = 0L;
            foreach (var node in new[] { 1, 2 })
            {
                onReplicas += await _cluster.ScalarAsync<long>(node, $"SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '{database}'");
            }

            Assert.True(onReplicas > 0, "no connection of the app on either standby");

            // /health: the database, and one check per host with its role.
            var (status, body) = await Http.PollAsync(running.Client, "/health",
                (_, b) => JsonDocument.Parse(b).RootElement.GetProperty("status").GetString() == "Healthy", TimeSpan.FromSeconds(15));
            Assert.Equal(200, status);
            var checks = JsonDocument.Parse(body).RootElement.GetProperty("checks");
            Assert.Equal("primary", checks.GetProperty($"orders/{_cluster.Host(0)}").GetProperty("data").GetProperty("role").GetString());
            foreach (var node in new[] { 1, 2 })
            {
                Assert.Equal("replica", checks.GetProperty($"orders/{_cluster.Host(node)}").GetProperty("data").GetProperty("role").GetString());
            }

            Assert.DoesNotContain(_cluster.Password, body);
        }

        Directory.Delete(folder, recursive: true);
    }
}
