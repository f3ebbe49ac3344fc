using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Switchboard.AspNetCore.Tests.Infrastructure;

/// <summary>A real application on real Kestrel at 127.0.0.1 (a port the OS picks), with an HttpClient pointed at it.</summary>
public sealed class RunningApp : IAsyncDisposable
{
    private RunningApp(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => App.Services;

    /// <summary>Builds a test host: <paramref name="configure"/> registers services, <paramref name="map"/> maps endpoints.</summary>
    public static Task<RunningApp> StartAsync(Action<WebApplicationBuilder> configure, Action<WebApplication> map, int port = 0)
    {
        // A content root of its own: the test output folder holds the sample's appsettings.json, which must not leak in.
        var contentRoot = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "switchboard-aspnet-content-root")).FullName;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = contentRoot });
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        configure(builder);
        var app = builder.Build();
        map(app);
        return StartAsync(app);
    }

    /// <summary>Starts an application that has been built (for example the sample's).</summary>
    public static async Task<RunningApp> StartAsync(WebApplication app)
    {
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new RunningApp(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
