using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Switchboard.Extensions.DependencyInjection;

/// <summary>
/// Builds the catalog when the host starts, before the server listens, so that a broken configuration stops the
/// start with <see cref="CatalogConfigurationException"/> (every problem, each naming its database) instead of failing
/// on the first request. Engines stay lazy: no connection is opened here.
/// </summary>
internal sealed partial class SwitchboardStartupCheck(IServiceProvider services, ILogger<SwitchboardStartupCheck> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var catalog = services.GetRequiredService<SwitchboardCatalog>();
        LogReady(logger, catalog.Names.Count, catalog);

        return Task.CompletedTask;
    }

    // The catalog itself is disposed by the container when the host shuts down, which closes every pool.
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Switchboard: {Count} database(s) configured: {Catalog}")]
    private static partial void LogReady(ILogger logger, int count, SwitchboardCatalog catalog);
}
