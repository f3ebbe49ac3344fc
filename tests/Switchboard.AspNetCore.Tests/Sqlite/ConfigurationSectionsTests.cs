using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Contracts;
using Switchboard.EntityFrameworkCore;
using Switchboard.Sharding;

namespace Switchboard.AspNetCore.Tests.Sqlite;

/// <summary>Databases, shard maps and tenant sets all from configuration sections, as docs/aspnetcore.md shows.</summary>
public sealed class ConfigurationSectionsTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "switchboard-sections-" + Guid.NewGuid().ToString("N")[..8]);
    private ServiceProvider _services = null!;

    public Task InitializeAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Databases:items_0:Url"] = $"sqlite:///{_folder}/items_0.db",
            ["Databases:items_1:Url"] = $"sqlite:///{_folder}/items_1.db",
            ["Shards:items:Strategy"] = "hash",
            ["Shards:items:Databases:0"] = "items_0",
            ["Shards:items:Databases:1"] = "items_1",
            ["Tenants:customers:Url"] = $"sqlite:///{_folder}/tenants/{{tenant}}.db",
            ["Tenants:customers:MaxOpenConnections"] = "3",
            ["Tenants:customers:Schema"] = "CREATE TABLE items (\"Id\" int PRIMARY KEY, \"Name\" varchar(100) NOT NULL)",
        }).Build();

        _services = new ServiceCollection()
            .AddLogging()
            .AddSwitchboard(configuration.GetSection("Databases"))
            .Configure((databases, _) => databases
                .AddShardConfiguration(configuration.GetSection("Shards"))
                .AddTenantConfiguration(configuration.GetSection("Tenants"))).Services
            .AddSwitchboardTenantDbContext<ShopDb>("customers")
            .AddSwitchboardShardDbContext<ShopDb>("items")
            .BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public async Task Shard_maps_and_tenant_sets_from_their_sections_serve_contexts()
    {
        var catalog = _services.GetRequiredService<SwitchboardCatalog>();
        var map = catalog.Shards("items");
        Assert.Equal(["items_0", "items_1"], map.Shards.Select(s => s.DatabaseName));
        Assert.Equal(3, catalog.Tenants("customers").MaxOpenConnections);

        // A tenant created from the set's schema, written and read through a tenant context.
        await catalog.Tenants("customers").CreateAsync("acme");
        var tenants = _services.GetRequiredService<ISwitchboardTenantDbContextFactory<ShopDb>>();
        await using (var db = await tenants.CreateDbContextAsync("acme"))
        {
            db.Items.Add(new Item { Id = 1, Name = "kettle" });
            await db.SaveChangesAsync();
        }

        await using (var read = await tenants.CreateDbContextAsync("acme", SessionIntent.ReadOnly))
        {
            Assert.Equal("kettle", Assert.Single(await read.Items.ToListAsync()).Name);
        }

        // A shard context lands on the shard the map picks for the key.
        foreach (var shard in map.Shards)
        {
            await using var session = shard.OpenSession();
            await session.ExecuteAsync("CREATE TABLE items (\"Id\" int PRIMARY KEY, \"Name\" varchar(100) NOT NULL)");
            await session.CommitAsync();
        }

        var shards = _services.GetRequiredService<ISwitchboardShardDbContextFactory<ShopDb>>();
        await using (var db = await shards.CreateDbContextAsync(ShardKey.FromInt64(42)))
        {
            db.Items.Add(new Item { Id = 42, Name = "toaster" });
            await db.SaveChangesAsync();
        }

        await using var owner = map.ForKey(ShardKey.FromInt64(42)).OpenSession();
        Assert.Equal(1, await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM items WHERE \"Id\" = 42"));
    }
}
