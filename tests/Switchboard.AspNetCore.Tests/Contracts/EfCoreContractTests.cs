using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.EntityFrameworkCore;

namespace Switchboard.AspNetCore.Tests.Contracts;

public sealed class Item
{
    public int Id { get; set; }

    public required string Name { get; set; }
}

public sealed class ShopDb(DbContextOptions<ShopDb> options) : DbContext(options)
{
    public DbSet<Item> Items => Set<Item>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.Entity<Item>().ToTable("items");
}

/// <summary>
/// EF Core contexts bound to a single-host Switchboard database, per intent, pooled: the read-only context runs on the
/// same server as the read-write one (replicas: PostgreSql/ReplicaIntegrationTests).
/// </summary>
public abstract class EfCoreContractTests : IAsyncLifetime
{
    private ServiceProvider _services = null!;

    protected abstract Task<string> NewDatabaseUrlAsync();

    /// <summary>Options of the database (for example an application name that proves which connection string EF Core used).</summary>
    protected virtual void ConfigureDatabase(DatabaseOptions options)
    {
    }

    protected ISwitchboardDbContextFactory<ShopDb> Factory => _services.GetRequiredService<ISwitchboardDbContextFactory<ShopDb>>();

    protected SwitchboardCatalog Catalog => _services.GetRequiredService<SwitchboardCatalog>();

    public async Task InitializeAsync()
    {
        var url = await NewDatabaseUrlAsync();
        _services = new ServiceCollection()
            .AddLogging()
            .AddSwitchboard(catalog => catalog.AddDatabase("shop", url, ConfigureDatabase)).Services
            .AddSwitchboardDbContext<ShopDb>("shop")
            .BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
        await using var db = Factory.CreateDbContext();
        await db.Database.EnsureCreatedAsync();
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task A_read_write_context_saves_and_a_read_only_context_reads_without_tracking()
    {
        await using (var db = Factory.CreateDbContext())
        {
            db.Items.Add(new Item { Id = 1, Name = "kettle" });
            Assert.Equal(1, await db.SaveChangesAsync());
        }

        await using var read = Factory.CreateDbContext(SessionIntent.ReadOnly);
        var item = Assert.Single(await read.Items.ToListAsync());
        Assert.Equal("kettle", item.Name);
        Assert.Empty(read.ChangeTracker.Entries());
    }

    [Fact]
    public async Task A_read_only_context_refuses_to_save()
    {
        await using var read = Factory.CreateDbContext(SessionIntent.ReadOnly);
        read.Items.Add(new Item { Id = 2, Name = "toaster" });
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => read.SaveChangesAsync());
        Assert.Contains("read-only", error.Message);
        Assert.Throws<InvalidOperationException>(() => read.SaveChanges());
        await using var check = Factory.CreateDbContext();
        Assert.Equal(0, await check.Items.CountAsync());
    }

    [Fact]
    public async Task Contexts_come_from_a_pool_per_intent()
    {
        ShopDb first;
        await using (first = Factory.CreateDbContext())
        {
            await first.Items.CountAsync();
        }

        await using var second = Factory.CreateDbContext();
        Assert.Same(first, second);
        await using var readOnly = Factory.CreateDbContext(SessionIntent.ReadOnly);
        Assert.NotSame(second, readOnly);
    }

    [Fact]
    public async Task The_scoped_context_is_read_write_and_returned_to_the_pool_with_the_scope()
    {
        await using (var scope = _services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ShopDb>();
            db.Items.Add(new Item { Id = 3, Name = "scoped" });
            await db.SaveChangesAsync();
        }

        await using var read = Factory.CreateDbContext(SessionIntent.ReadOnly);
        Assert.Equal("scoped", (await read.Items.SingleAsync(i => i.Id == 3)).Name);
    }

    [Fact]
    public async Task EF_Core_and_Dapper_sessions_see_the_same_database()
    {
        await using (var session = Catalog.OpenSession("shop"))
        {
            await session.ExecuteAsync("INSERT INTO items (\"Id\", \"Name\") VALUES (@id, @name)".Replace("\"", QuoteChar), new { id = 4, name = "from dapper" });
            await session.CommitAsync();
        }

        await using var read = Factory.CreateDbContext(SessionIntent.ReadOnly);
        Assert.Equal("from dapper", (await read.Items.SingleAsync(i => i.Id == 4)).Name);
    }

    /// <summary>How the dialect quotes EF Core's case-sensitive column names.</summary>
    protected virtual string QuoteChar => "\"";
}
