using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Switchboard.AspNetCore.Tests.Infrastructure;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.PostgreSql;

[Collection(ServersCollection.Name)]
public sealed class ShutdownTests(DatabaseServers servers)
{
    [Fact]
    public async Task Stopping_the_host_closes_every_pooled_connection()
    {
        var database = await servers.CreatePgDatabaseAsync("shutdown");
        var app = await RunningApp.StartAsync(
            builder =>
            {
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Databases:orders:Url"] = servers.PgUrl(database) });
                builder.Services.AddSwitchboard(builder.Configuration.GetSection("Databases"));
            },
            app => app.MapGet("/sleep", async ([FromKeyedServices("orders")] DatabaseSession orders) =>
                await orders.ExecuteScalarAsync<int>("SELECT 1 FROM pg_sleep(0.2)")));
        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => app.Client.GetStringAsync("/sleep")));
        Assert.True(await BackendsAsync(database) >= 2, "the pool keeps its connections open between requests");

        await app.DisposeAsync();
        var until = DateTime.UtcNow.AddSeconds(10);
        long left;
        while ((left = await BackendsAsync(database)) > 0 && DateTime.UtcNow < until)
        {
            await Task.Delay(100);
        }

        Assert.Equal(0, left);
    }

    private async Task<long> BackendsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(servers.PgAdminConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE datname = @d", connection);
        command.Parameters.AddWithValue("d", database);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
