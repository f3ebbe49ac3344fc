using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Switchboard.AspNetCore.Tests.Infrastructure;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.Hosting;

/// <summary>Registration and start-up: a broken configuration stops the start; sessions resolve by name or by default.</summary>
public sealed class StartupTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "switchboard-startup-" + Guid.NewGuid().ToString("N")[..8]);

    private string Sqlite(string name) => $"sqlite:///{_folder}/{name}.db";

    private static Action<WebApplicationBuilder> Databases(Dictionary<string, string?> settings, Action<WebApplicationBuilder>? more = null) => builder =>
    {
        builder.Configuration.AddInMemoryCollection(settings);
        more?.Invoke(builder);
    };

    [Fact]
    public async Task A_broken_configuration_stops_the_start_naming_every_problem_and_no_password()
    {
        var port = DatabaseServers.FreePort();
        var error = await Assert.ThrowsAsync<CatalogConfigurationException>(() => RunningApp.StartAsync(
            Databases(new()
            {
                ["Databases:orders:Url"] = "postgresql://app:Top-S3cret-in-url@db1:notaport/orders",
                ["Databases:legacy:Url"] = Sqlite("legacy"),
                ["Databases:legacy:Pool:MaxSize"] = "0",
                ["Databases:audit:Urll"] = Sqlite("audit"),
            }, b => b.Services.AddSwitchboard(b.Configuration.GetSection("Databases")).AddHealthChecks()),
            _ => { },
            port));

        Assert.Contains(error.Problems, p => p.Database == "orders" && p.Key == "Url");
        Assert.Contains(error.Problems, p => p.Database == "legacy" && p.Key == "Pool:MaxSize");
        Assert.Contains(error.Problems, p => p.Database == "audit" && p.Key == "Urll" && p.Message.Contains("did you mean 'Url'"));
        Assert.DoesNotContain("Top-S3cret-in-url", error.ToString());

        // The server never listened.
        using var client = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => client.ConnectAsync("127.0.0.1", port));
    }

    [Fact]
    public async Task An_unknown_default_database_stops_the_start()
    {
        var error = await Assert.ThrowsAsync<UnknownDatabaseException>(() => RunningApp.StartAsync(
            Databases(new() { ["Databases:orders:Url"] = Sqlite("orders") },
                b => b.Services.AddSwitchboard(b.Configuration.GetSection("Databases")).UseDefaultDatabase("ordres")),
            _ => { }));
        Assert.Contains("did you mean 'orders'", error.Message);
    }

    [Fact]
    public async Task Sessions_resolve_by_name_from_code_and_configuration_and_an_unknown_name_lists_the_configured_ones()
    {
        await using var app = await RunningApp.StartAsync(
            Databases(new() { ["Databases:orders:Url"] = Sqlite("orders") }, b => b.Services
                .AddSwitchboard(b.Configuration.GetSection("Databases"), catalog => catalog.AddDatabase("audit", Sqlite("audit")))
                .AddHealthChecks(o => o.Tags.Add("ready"))),
            app => app.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = r => r.Tags.Contains("ready") }));

        await using var scope = app.Services.CreateAsyncScope();
        Assert.Equal("orders", scope.ServiceProvider.GetRequiredKeyedService<DatabaseSession>("orders").DatabaseName);
        Assert.Equal("audit", scope.ServiceProvider.GetRequiredKeyedService<DatabaseSession>("audit").DatabaseName);
        var unknown = Assert.Throws<UnknownDatabaseException>(() => scope.ServiceProvider.GetRequiredKeyedService<DatabaseSession>("ordres"));
        Assert.Contains("did you mean 'orders'", unknown.Message);
        Assert.Contains("audit, orders", unknown.Message);

        // Two databases and no default: an unkeyed session says how to choose.
        var unkeyed = Assert.Throws<InvalidOperationException>(() => scope.ServiceProvider.GetRequiredService<DatabaseSession>());
        Assert.Contains("FromKeyedServices", unkeyed.Message);

        // Health checks cover the database added in code too.
        var registrations = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<HealthCheckServiceOptions>>().Value.Registrations;
        Assert.Equal(["audit", "orders"], registrations.Select(r => r.Name).Order());
        Assert.Equal("OK", await (await app.Client.GetAsync("/ready")).Content.ReadAsStringAsync() is "Healthy" ? "OK" : "not healthy");
    }

    [Fact]
    public async Task An_unkeyed_session_is_the_default_or_the_only_database()
    {
        await using (var single = await RunningApp.StartAsync(
            Databases(new() { ["Databases:only:Url"] = Sqlite("only") }, b => b.Services.AddSwitchboard(b.Configuration.GetSection("Databases"))),
            app => app.MapGet("/", (DatabaseSession session) => session.DatabaseName)))
        {
            Assert.Equal("only", await single.Client.GetStringAsync("/"));
        }

        await using var chosen = await RunningApp.StartAsync(
            Databases(new() { ["Databases:a:Url"] = Sqlite("a"), ["Databases:b:Url"] = Sqlite("b") },
                b => b.Services.AddSwitchboard(b.Configuration.GetSection("Databases")).UseDefaultDatabase("b")),
            app => app.MapGet("/", (DatabaseSession session) => session.DatabaseName));
        Assert.Equal("b", await chosen.Client.GetStringAsync("/"));
    }
}
