using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.EntityFrameworkCore;
using Switchboard.Tenants;

namespace Switchboard.AspNetCore.Tests.Contracts;

/// <summary>
/// EF Core contexts bound to a tenant of a tenant set and to the shard of a shard key: one context pool serves every
/// tenant (or shard), each context sees only its own database's rows, and tenant contexts respect the set's connection cap.
/// </summary>
public abstract class PartitionedEfCoreContractTests : IAsyncLifetime
{
    private const string ItemsTable = "CREATE TABLE items (\"Id\" int PRIMARY KEY, \"Name\" varchar(100) NOT NULL)";

    private ServiceProvider _services = null!;

    /// <summary>A tenant URL template with <c>{tenant}</c>, whose tenant databases do not exist yet.</summary>
    protected abstract string TenantTemplate();

    /// <summary>URLs of two fresh, empty shard databases.</summary>
    protected abstract Task<(string First, string Second)> ShardUrlsAsync();

    protected ISwitchboardTenantDbContextFactory<ShopDb> Tenants => _services.GetRequiredService<ISwitchboardTenantDbContextFactory<ShopDb>>();

    protected ISwitchboardShardDbContextFactory<ShopDb> Shards => _services.GetRequiredService<ISwitchboardShardDbContextFactory<ShopDb>>();

    protected SwitchboardCatalog Catalog => _services.GetRequiredService<SwitchboardCatalog>();

    public async Task InitializeAsync()
    {
        var template = TenantTemplate();
        var (first, second) = await ShardUrlsAsync();
        _services = new ServiceCollection()
            .AddLogging()
            .AddSwitchboard(catalog => catalog
                .AddDatabase("shard_0", first)
                .AddDatabase("shard_1", second)
                .AddShardMap("items", Sharding.ShardStrategy.Hash, ["shard_0", "shard_1"])
                .AddTenants("customers", template, t =>
                {
                    t.Schema = ItemsTable;
                    t.MaxOpenConnections = 2;
                    t.Pool.CheckoutTimeout = TimeSpan.FromMilliseconds(300);
                })).Services
            .AddSwitchboardTenantDbContext<ShopDb>("customers")
            .AddSwitchboardShardDbContext<ShopDb>("items")
            .BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
        foreach (var shard in new[] { "shard_0", "shard_1" })
        {
            await using var session = Catalog.OpenSession(shard);
            await session.ExecuteAsync(ItemsTable);
            await session.CommitAsync();
        }
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    private async Task<string[]> CreateTenantsAsync(int count)
    {
        var ids = Enumerable.Range(0, count).Select(i => $"t{i}-{Guid.NewGuid().ToString("N")[..6]}").ToArray();
        foreach (var id in ids)
        {
            await Catalog.Tenants("customers").CreateAsync(id);
        }

        return ids;
    }

    [Fact]
    public async Task Each_tenant_context_sees_only_its_own_rows_and_all_tenants_share_one_pool()
    {
        var tenants = await CreateTenantsAsync(6);
        var contexts = new HashSet<ShopDb>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < tenants.Length; i++)
        {
            await using var db = await Tenants.CreateDbContextAsync(tenants[i]);
            contexts.Add(db);
            for (var n = 0; n <= i; n++)
            {
                db.Items.Add(new Item { Id = n + 1, Name = $"{tenants[i]} #{n + 1}" });
            }

            Assert.Equal(i + 1, await db.SaveChangesAsync());
        }

        for (var i = 0; i < tenants.Length; i++)
        {
            await using var db = Tenants.CreateDbContext(tenants[i], SessionIntent.ReadOnly);
            contexts.Add(db);
            var names = await db.Items.OrderBy(x => x.Id).Select(x => x.Name).ToListAsync();
            Assert.Equal(Enumerable.Range(1, i + 1).Select(n => $"{tenants[i]} #{n}"), names);
            Assert.Empty(db.ChangeTracker.Entries());
        }

        // One pooled context per intent served every tenant, one after another.
        Assert.Equal(2, contexts.Count);

        // What the contexts wrote is in each tenant's own database, as Switchboard's sessions see it.
        await using var session = await Catalog.Tenants("customers").ForTenant(tenants[2]).OpenSessionAsync();
        Assert.Equal(3, await session.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM items"));
    }

    [Fact]
    public async Task Tenant_contexts_hold_a_connection_under_the_set_s_cap_until_disposed()
    {
        var tenants = await CreateTenantsAsync(3);
        var set = Catalog.Tenants("customers");
        var first = await Tenants.CreateDbContextAsync(tenants[0]);
        var second = await Tenants.CreateDbContextAsync(tenants[1], SessionIntent.ReadOnly);
        Assert.Equal(2, set.GetStatistics().InUseConnections);

        // The cap is 2: a third context waits for a connection, then fails naming the tenant.
        var refused = await Assert.ThrowsAsync<TenantConnectionLimitException>(() => Tenants.CreateDbContextAsync(tenants[2]).AsTask());
        Assert.Equal(tenants[2], refused.TenantId);

        await first.DisposeAsync();
        await using (var third = await Tenants.CreateDbContextAsync(tenants[2]))
        {
            Assert.Equal(0, await third.Items.CountAsync());
        }

        await second.DisposeAsync();
        Assert.Equal(0, set.GetStatistics().InUseConnections);
        Assert.Throws<ArgumentException>(() => Tenants.CreateDbContext("Not A Tenant"));
    }

    [Fact]
    public async Task Each_shard_context_sees_only_its_shard_s_rows()
    {
        var map = Catalog.Shards("items");
        for (var id = 1; id <= 12; id++)
        {
            await using var db = await Shards.CreateDbContextAsync(id);
            db.Items.Add(new Item { Id = id, Name = "item " + id });
            await db.SaveChangesAsync();
        }

        var expected = Enumerable.Range(1, 12).GroupBy(id => map.ForKey(id).DatabaseName).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(2, expected.Count); // twelve keys hash onto both shards
        for (var id = 1; id <= 12; id++)
        {
            await using var db = Shards.CreateDbContext(id, SessionIntent.ReadOnly);
            var ids = await db.Items.OrderBy(x => x.Id).Select(x => x.Id).ToListAsync();
            Assert.Equal(expected[map.ForKey(id).DatabaseName], ids);
        }

        foreach (var shard in map.Shards)
        {
            await using var db = Shards.CreateDbContext(shard, SessionIntent.ReadOnly);
            Assert.Equal(expected[shard.DatabaseName].Count, await db.Items.CountAsync());
            await using var session = shard.OpenSession(SessionIntent.ReadOnly);
            Assert.Equal(expected[shard.DatabaseName].Count, await session.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM items"));
        }
    }
}
