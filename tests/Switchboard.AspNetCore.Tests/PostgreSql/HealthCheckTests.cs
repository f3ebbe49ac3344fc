using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Infrastructure;
using Switchboard.Extensions.DependencyInjection;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.PostgreSql;

/// <summary>/health over HTTP while a PostgreSQL server of the test's own is stopped and started again.</summary>
[Collection(ServersCollection.Name)]
public sealed class HealthCheckTests(DatabaseServers servers)
{
    [Fact]
    public async Task Health_turns_unhealthy_when_a_database_stops_and_healthy_when_it_returns()
    {
        _ = servers; // the rig has installed PostgreSQL; this test runs a cluster of its own that it may stop
        await using var postgres = await ThrowawayPostgres.StartAsync();
        var folder = Path.Combine(Path.GetTempPath(), "switchboard-health-" + Guid.NewGuid().ToString("N")[..8]);
        await using var app = await RunningApp.StartAsync(
            builder =>
            {
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Databases:orders:Url"] = postgres.Url(),
                    ["Databases:audit:Url"] = $"sqlite:///{folder}/audit.db",
                });
                builder.Services.AddSwitchboard(builder.Configuration.GetSection("Databases"))
                    .AddHealthChecks(o => o.Timeout = TimeSpan.FromSeconds(3));
            },
            app =>
            {
                app.MapHealthChecks("/health", new() { ResponseWriter = SwitchboardHealthResponse.WriteAsync });
                app.MapHealthChecks("/health/sqlite", new() { Predicate = r => r.Tags.Contains("sqlite"), ResponseWriter = SwitchboardHealthResponse.WriteAsync });
                app.MapGet("/touch", async ([FromKeyedServices("orders")] DatabaseSession orders) => await orders.ExecuteScalarAsync<int>("SELECT 1"));
            });

        // Leave pooled connections behind, which the stop will kill.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => app.Client.GetStringAsync("/touch")));
        var (status, body) = await Http.PollAsync(app.Client, "/health", (s, _) => s == 200, TimeSpan.FromSeconds(10));
        Assert.Equal(200, status);
        Assert.Equal("Healthy", Check(body, "orders").GetProperty("status").GetString());

        await postgres.StopServerAsync();
        (status, body) = await Http.PollAsync(app.Client, "/health", (s, _) => s == 503, TimeSpan.FromSeconds(30));
        Assert.Equal(503, status);
        var orders = Check(body, "orders");
        Assert.Equal("Unhealthy", orders.GetProperty("status").GetString());
        Assert.Contains("'orders'", orders.GetProperty("description").GetString());
        Assert.Contains($"127.0.0.1:{postgres.Port}", orders.GetProperty("description").GetString());
        Assert.Equal("Healthy", Check(body, "audit").GetProperty("status").GetString());
        Assert.DoesNotContain(ThrowawayPostgres.Password, body);

        // Checks selected by tag are unaffected.
        using (var sqliteOnly = await app.Client.GetAsync("/health/sqlite"))
        {
            Assert.Equal(200, (int)sqliteOnly.StatusCode);
            Assert.False(JsonDocument.Parse(await sqliteOnly.Content.ReadAsStringAsync()).RootElement.GetProperty("checks").TryGetProperty("orders", out _));
        }

        await postgres.StartServerAsync();
        (status, body) = await Http.PollAsync(app.Client, "/health", (s, _) => s == 200, TimeSpan.FromSeconds(30));
        Assert.Equal(200, status);
        Assert.Equal("Healthy", Check(body, "orders").GetProperty("status").GetString());
        Assert.Equal(1, int.Parse(await app.Client.GetStringAsync("/touch")));
    }

    private static JsonElement Check(string body, string name) =>
        JsonDocument.Parse(body).RootElement.GetProperty("checks").GetProperty(name).Clone();
}
