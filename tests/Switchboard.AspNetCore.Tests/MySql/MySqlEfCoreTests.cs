using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Contracts;
using Switchboard.EntityFrameworkCore;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.MySql;

/// <summary>No EF Core provider for MySQL/MariaDB is available here (Pomelo is not served): the binding says so.</summary>
[Collection(ServersCollection.Name)]
public sealed class MySqlEfCoreTests(DatabaseServers servers)
{
    [Fact]
    public async Task A_MySQL_database_needs_a_provider_and_the_error_says_how_to_give_one()
    {
        var url = servers.MyUrl(await servers.CreateMyDatabaseAsync("ef"));
        await using var services = new ServiceCollection().AddLogging()
            .AddSwitchboard(catalog => catalog.AddDatabase("legacy", url)).Services
            .AddSwitchboardDbContext<ShopDb>("legacy")
            .BuildServiceProvider();
        var error = Assert.Throws<NotSupportedException>(() => services.GetRequiredService<ISwitchboardDbContextFactory<ShopDb>>().CreateDbContext());
        Assert.Contains("'legacy'", error.Message);
        Assert.Contains("UseProvider", error.Message);
        Assert.DoesNotContain(servers.MyPassword, error.Message);
    }

    [Fact]
    public async Task A_provider_given_with_UseProvider_gets_the_database_s_engine()
    {
        var url = servers.MyUrl(await servers.CreateMyDatabaseAsync("ef"));
        SwitchboardDbTarget? seen = null;
        await using var services = new ServiceCollection().AddLogging()
            .AddSwitchboard(catalog => catalog.AddDatabase("legacy", url)).Services
            .AddSwitchboardDbContext<ShopDb>("legacy", o => o.UseProvider = (builder, target) =>
            {
                seen = target;
                throw new InvalidOperationException("stand-in for a MySQL provider");
            })
            .BuildServiceProvider();
        Assert.Throws<InvalidOperationException>(() => services.GetRequiredService<ISwitchboardDbContextFactory<ShopDb>>().CreateDbContext(SessionIntent.ReadOnly));
        Assert.NotNull(seen);
        Assert.Equal("legacy", seen.Database);
        Assert.Equal(SessionIntent.ReadOnly, seen.Intent);
        Assert.Same(services.GetRequiredService<SwitchboardCatalog>().GetEngine("legacy").DataSource, seen.DataSource);
    }
}
