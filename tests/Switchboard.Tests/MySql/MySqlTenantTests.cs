using Dapper;
using MySql.Data.MySqlClient;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.MySql;

/// <summary>Tenant databases on MariaDB: CREATE DATABASE with the set's Schema, existence, DROP DATABASE, and failures.</summary>
[Collection(ServersCollection.Name)]
public sealed class MySqlTenantTests(DatabaseServers servers)
{
    private readonly string _prefix = "mt" + Guid.NewGuid().ToString("N")[..6];

    private const string Notes = "CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, tenant VARCHAR(64) NOT NULL, body TEXT NOT NULL)";

    private async Task<bool> ServerHasAsync(string tenant)
    {
        await using var admin = new MySqlConnection(servers.MyAdminConnectionString());
        await admin.OpenAsync();
        return await admin.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = @n", new { n = $"{_prefix}_{tenant}" }) > 0;
    }

    [Fact]
    public async Task Tenants_are_created_with_the_schema_checked_opened_and_dropped()
    {
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddTenants("shops", servers.MyUrl(_prefix + "_{tenant}"), o =>
            {
                o.Schema = Notes + "; INSERT INTO notes (tenant, body) VALUES ('schema', 'ran')";
                o.MaxOpenConnections = 2;
            })
            .Build();
        var set = catalog.Tenants("shops");
        Assert.False(await set.ExistsAsync("acme"));

        // A tenant that was never created: the server's "unknown database", named, and not worth retrying.
        await using (var missing = set.ForTenant("acme").OpenSession())
        {
            var error = await Assert.ThrowsAsync<DatabaseConnectionException>(() => missing.ExecuteAsync("SELECT 1"));
            Assert.Equal("shops/acme", error.DatabaseName);
            Assert.False(error.IsTransient);
        }

        await set.CreateAsync("acme");
        Assert.True(await set.ExistsAsync("acme"));
        Assert.True(await ServerHasAsync("acme"));
        await using (var session = await set.ForTenant("acme").OpenSessionAsync())
        {
            await session.ExecuteAsync("INSERT INTO notes (tenant, body) VALUES ('acme', 'mine')");
            await session.CommitAsync();
            Assert.Equal(["schema", "acme"], await session.QueryAsync<string>("SELECT tenant FROM notes ORDER BY id"));
        }

        var again = await Assert.ThrowsAsync<DatabaseCommandException>(() => set.CreateAsync("acme"));
        Assert.Equal("shops/acme", again.DatabaseName);

        Assert.True(await set.DropAsync("acme"));
        Assert.False(await set.DropAsync("acme"));
        Assert.False(await ServerHasAsync("acme"));
    }

    [Fact]
    public async Task A_schema_that_fails_leaves_no_tenant_behind_and_a_template_is_refused_at_start_up()
    {
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddTenants("shops", servers.MyUrl(_prefix + "_{tenant}"), o => o.Schema = Notes + "; INSERT INTO no_such_table VALUES (1)")
            .Build();
        var set = catalog.Tenants("shops");
        var error = await Assert.ThrowsAsync<DatabaseCommandException>(() => set.CreateAsync("broken"));
        Assert.Equal("shops/broken", error.DatabaseName);
        Assert.False(await ServerHasAsync("broken"));
        Assert.False(await set.ExistsAsync("broken"));

        var config = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.CreateBuilder()
            .AddTenants("shops", servers.MyUrl(_prefix + "_{tenant}"), o => o.Template = "shop_template")
            .Build());
        var problem = Assert.Single(config.Problems);
        Assert.Equal("Template", problem.Key);
        Assert.Contains("no template databases", problem.Message);
    }
}
