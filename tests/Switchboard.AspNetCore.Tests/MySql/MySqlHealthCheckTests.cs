using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Switchboard.Extensions.DependencyInjection;

namespace Switchboard.AspNetCore.Tests.MySql;

/// <summary>The health check against a MySQL server that accepts connections and never answers (a hung server).</summary>
public sealed class MySqlHealthCheckTests
{
    [Fact]
    public async Task A_server_that_never_answers_is_unhealthy_within_the_checks_timeout_naming_database_and_host()
    {
        // Accepts TCP connections and sends nothing: MySql.Data's open blocks until its own connect timeout (15 s), and
        // ignores the cancellation token while it does.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;

        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSwitchboard(b => b.AddDatabase("legacy", $"mysql://app:hung-Secr3t@127.0.0.1:{port}/shop"))
            .AddHealthChecks(o => o.Timeout = TimeSpan.FromSeconds(1));
        await using var provider = services.BuildServiceProvider();

        var started = Stopwatch.GetTimestamp();
        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        var elapsed = Stopwatch.GetElapsedTime(started);

        var legacy = report.Entries["legacy"];
        Assert.Equal(HealthStatus.Unhealthy, legacy.Status);
        Assert.Contains("no answer within 1 s", legacy.Description);
        Assert.Contains($"127.0.0.1:{port}", legacy.Description);
        Assert.Null(legacy.Exception);
        Assert.DoesNotContain("hung-Secr3t", legacy.Description);
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"the check took {elapsed.TotalSeconds:0.0} s, past its 1 s timeout");
    }
}
