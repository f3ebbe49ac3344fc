using Npgsql;
using Switchboard.Tenants;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.PostgreSql;

/// <summary>Tenant databases on PostgreSQL: CREATE DATABASE … TEMPLATE, DROP DATABASE … WITH (FORCE), and what the server sees.</summary>
[Collection(ServersCollection.Name)]
public sealed class PostgreSqlTenantTests(DatabaseServers servers)
{
    private readonly string _prefix = "tt" + Guid.NewGuid().ToString("N")[..6];

    private async Task<string> TemplateAsync()
    {
        var template = _prefix + "_template";
        await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
        await admin.OpenAsync();
        await new NpgsqlCommand($"CREATE DATABASE \"{template}\"", admin).ExecuteNonQueryAsync();
        await using var connection = new NpgsqlConnection(servers.PgAdminConnectionString(template));
        await connection.OpenAsync();
        await new NpgsqlCommand("CREATE TABLE notes (id SERIAL PRIMARY KEY, tenant TEXT NOT NULL, body TEXT NOT NULL)", connection).ExecuteNonQueryAsync();
        return template;
    }

    private async Task<long> ServerConnectionsAsync()
    {
        await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM pg_stat_activity WHERE datname LIKE @p", admin);
        command.Parameters.AddWithValue("p", _prefix + "\\_%");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The server count once it settles: a backend leaves pg_stat_activity shortly after its client closed the connection.</summary>
    private async Task<long> SettledServerConnectionsAsync(long expected)
    {
        var count = await ServerConnectionsAsync();
        for (var attempt = 0; attempt < 40 && count > expected; attempt++)
        {
            await Task.Delay(50);
            count = await ServerConnectionsAsync();
        }

        return count;
    }

    private async Task DropTemplateAsync(string template)
    {
        await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
        await admin.OpenAsync();
        await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{template}\" WITH (FORCE)", admin).ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Tenants_are_created_from_a_template_database_isolated_and_dropped()
    {
        var template = await TemplateAsync();
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddTenants("customers", servers.PgUrl(_prefix + "_{tenant}"), o =>
            {
                o.Template = template;
                o.Schema = "INSERT INTO notes (tenant, body) VALUES ('schema', 'ran')";
                o.MaxOpenConnections = 2;
            })
            .Build();
        var set = catalog.Tenants("customers");
        string[] tenants = ["acme", "globex", "initech"];
        foreach (var tenant in tenants)
        {
            await set.CreateAsync(tenant);
            await using var session = await set.ForTenant(tenant).OpenSessionAsync();
            await session.ExecuteAsync("INSERT INTO notes (tenant, body) VALUES (@tenant, 'hello')", new { tenant });
            await session.CommitAsync();
        }

        foreach (var tenant in tenants)
        {
            await using var session = await set.ForTenant(tenant).OpenSessionAsync(SessionOptions.ReadOnly);
            var owners = await session.QueryAsync<string>("SELECT tenant FROM notes ORDER BY id");
            Assert.Equal(["schema", tenant], owners);
        }

        Assert.InRange(await SettledServerConnectionsAsync(2), 1, 2); // the limit of 2, seen by the server

        var exists = await Assert.ThrowsAsync<DatabaseCommandException>(() => set.CreateAsync("acme"));
        Assert.Contains("customers/acme", exists.Message);
        Assert.DoesNotContain(servers.PgPassword, exists.ToString(), StringComparison.Ordinal);

        foreach (var tenant in tenants)
        {
            Assert.True(await set.DropAsync(tenant));
            Assert.False(await set.ExistsAsync(tenant));
        }

        Assert.False(await set.DropAsync("acme"));
        Assert.Equal(0, await SettledServerConnectionsAsync(0));
        await DropTemplateAsync(template);
    }

    [Fact]
    public async Task Eviction_closes_the_server_connections_of_the_evicted_tenants()
    {
        var template = await TemplateAsync();
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddTenants("customers", servers.PgUrl(_prefix + "_{tenant}"), o =>
            {
                o.Template = template;
                o.MaxEngines = 2;
            })
            .Build();
        var set = catalog.Tenants("customers");
        for (var i = 0; i < 5; i++)
        {
            await set.CreateAsync($"t{i}");
            await using var session = await set.ForTenant($"t{i}").OpenSessionAsync();
            Assert.Equal(0, await session.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM notes"));
        }

        Assert.Equal(2, set.GetStatistics().Engines);
        Assert.Equal(2, await SettledServerConnectionsAsync(2)); // the evicted three closed theirs
        Assert.Equal(2, set.EvictIdle(TimeSpan.Zero));
        Assert.Equal(0, await SettledServerConnectionsAsync(0));
        for (var i = 0; i < 5; i++)
        {
            Assert.True(await set.DropAsync($"t{i}"));
        }

        await DropTemplateAsync(template);
    }

    [Fact]
    public void Tenant_ids_that_would_be_truncated_by_the_server_are_refused()
    {
        using var catalog = SwitchboardCatalog.CreateBuilder().AddTenants("customers", servers.PgUrl("tenant_database_{tenant}")).Build();
        var error = Assert.Throws<ArgumentException>(() => catalog.ForTenant(new string('x', 50)).OpenSession());
        Assert.Contains("63 bytes", error.Message);
        using var fine = catalog.ForTenant(new string('x', 47)).OpenSession();
        Assert.Equal("tenant_database_" + new string('x', 47), fine.Engine.Definition.Connection.Database);
    }
}
