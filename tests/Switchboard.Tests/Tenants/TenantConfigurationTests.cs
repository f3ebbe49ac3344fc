using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Configuration;
using Switchboard.Tenants;

namespace Switchboard.Tests.Tenants;

/// <summary>Tenant sets from configuration, their validation, tenant id checks and tenant scopes. Nothing is opened.</summary>
public sealed class TenantConfigurationTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("switchboard-tenant-config-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private SwitchboardCatalog Catalog(Action<TenantSetOptions>? configure = null) => SwitchboardCatalog.CreateBuilder()
        .AddTenants("customers", $"sqlite:///{_folder}/tenants/{{tenant}}.db", configure)
        .Build();

    [Fact]
    public void Tenant_sets_come_from_the_Tenants_configuration_section()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Databases:control"] = $"sqlite:///{_folder}/control.db",
            ["Tenants:customers:Url"] = $"sqlite:///{_folder}/t/{{tenant}}.db",
            ["Tenants:customers:MaxOpenConnections"] = "32",
            ["Tenants:customers:MaxEngines"] = "10",
            ["Tenants:customers:IdleTimeout"] = "90s",
            ["Tenants:customers:Pool:MaxSize"] = "3",
            ["Tenants:customers:ConnectionLimitGroup"] = "db1",
            ["Tenants:sandboxes:Directory:Database"] = "control",
            ["Tenants:sandboxes:Directory:Table"] = "tenants",
            ["Tenants:sandboxes:MaxOpenConnections"] = "32",
            ["Tenants:sandboxes:ConnectionLimitGroup"] = "db1",
        }).Build();
        using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddConfiguration(configuration.GetSection("Databases"))
            .AddTenantConfiguration(configuration.GetSection("Tenants"))
            .Build();
        Assert.Equal(["customers", "sandboxes"], catalog.TenantSetNames);
        var customers = catalog.Tenants("Customers");
        Assert.Equal(32, customers.MaxOpenConnections);
        using var session = customers.ForTenant("acme").OpenSession();
        Assert.Equal("customers/acme", session.DatabaseName);
        Assert.Equal(3, session.Engine.Definition.Pool.MaxSize);
        Assert.Equal(Path.Combine(_folder, "t", "acme.db"), session.Engine.Definition.Target);
        Assert.Contains("did you mean 'customers'", Assert.Throws<UnknownTenantSetException>(() => catalog.Tenants("custmers")).Message);
        Assert.Contains("2 tenant sets", Assert.Throws<InvalidOperationException>(() => catalog.ForTenant("acme")).Message);
    }

    [Fact]
    public void Every_tenant_set_problem_is_reported_at_once()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Tenants:a:Url"] = $"sqlite:///{_folder}/shared.db",
            ["Tenants:b:Url"] = "postgresql://app@127.0.0.1:99999/tenant_{tenant}",
            ["Tenants:c:Url"] = $"sqlite:///{_folder}/{{tenant}}.db",
            ["Tenants:c:MaxOpenConections"] = "5",
            ["Tenants:c:Pool:MaxSze"] = "5",
            ["Tenants:d:Directory:Database"] = "nowhere",
            ["Tenants:d:Directory:Table"] = "t; drop",
            ["Tenants:e:Url"] = $"sqlite:///{_folder}/e/{{tenant}}.db",
            ["Tenants:e:MaxOpenConnections"] = "8",
            ["Tenants:e:ConnectionLimitGroup"] = "g",
            ["Tenants:f:Url"] = $"sqlite:///{_folder}/f/{{tenant}}.db",
            ["Tenants:f:MaxOpenConnections"] = "9",
            ["Tenants:f:ConnectionLimitGroup"] = "g",
        }).Build();
        var builder = SwitchboardCatalog.CreateBuilder().AddTenantConfiguration(configuration.GetSection("Tenants"));
        var error = Assert.Throws<CatalogConfigurationException>(() => builder.Build());
        var problems = error.Problems.Select(p => p.ToString()).ToList();
        Assert.Contains(problems, p => p.StartsWith("Tenants:a: Url:", StringComparison.Ordinal) && p.Contains("{tenant}"));
        Assert.Contains(problems, p => p.StartsWith("Tenants:b: Url:", StringComparison.Ordinal) && p.Contains("port"));
        Assert.Contains(problems, p => p.StartsWith("Tenants:c: MaxOpenConections:", StringComparison.Ordinal) && p.Contains("did you mean 'MaxOpenConnections'"));
        Assert.Contains(problems, p => p.StartsWith("Tenants:c: Pool:MaxSze:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Tenants:d: Directory:Database:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Tenants:d: Directory:Table:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Tenants:f: MaxOpenConnections:", StringComparison.Ordinal) && p.Contains("ConnectionLimitGroup 'g'"));
    }

    [Fact]
    public void Property_tenant_ids_that_could_change_a_path_or_a_name_are_refused()
    {
        using var catalog = Catalog();
        var set = catalog.Tenants("customers");
        var tenants = Path.Combine(_folder, "tenants");
        Prop.ForAll(ArbMap.Default.ArbFor<NonNull<string>>(), id =>
        {
            var valid = id.Get.Length is > 0 and <= 63 && char.IsAsciiLetterOrDigit(id.Get[0])
                && id.Get.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-');
            try
            {
                using var session = set.ForTenant(id.Get).OpenSession();
                // Accepted: the file is exactly tenants/<id>.db, inside the folder.
                return valid && session.Engine.Definition.Target == Path.Combine(tenants, id.Get + ".db");
            }
            catch (ArgumentException e)
            {
                return !valid && e.Message.Contains("'customers'", StringComparison.Ordinal);
            }
        }).QuickCheckThrowOnFailure();

        foreach (var bad in new[] { "../etc", "a/b", "a.b", "A", "acme ", "acme\n", "", "a\0b", "-x", new string('a', 64), "x%2F" })
        {
            Assert.Throws<ArgumentException>(() => set.ForTenant(bad));
        }
    }

    [Fact]
    public async Task A_tenant_scope_flows_into_async_code_and_nests()
    {
        using var catalog = Catalog();
        var set = catalog.Tenants("customers");
        Assert.Null(set.CurrentTenantId);
        Assert.Throws<InvalidOperationException>(() => set.Current);
        using (set.BeginScope("acme"))
        {
            Assert.Equal("acme", set.Current.TenantId);
            Assert.Equal("acme", await Task.Run(async () =>
            {
                await Task.Yield();
                return set.CurrentTenantId;
            }));
            using (set.BeginScope("globex"))
            {
                Assert.Equal("globex", set.CurrentTenantId);
                await using var session = set.OpenSession();
                Assert.Equal("customers/globex", session.DatabaseName);
            }

            Assert.Equal("acme", set.CurrentTenantId);
        }

        Assert.Null(set.CurrentTenantId);

        // Work started in parallel keeps each one's own tenant.
        var seen = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var scope = set.BeginScope($"t{i}");
            await Task.Delay(5);
            return set.CurrentTenantId == $"t{i}";
        }));
        Assert.All(seen, Assert.True);
    }

    [Fact]
    public async Task A_locked_scope_refuses_every_other_tenant_even_in_child_tasks()
    {
        using var catalog = Catalog();
        var set = catalog.Tenants("customers");
        using var scope = set.BeginScope("acme", lockTenant: true);
        Assert.True(scope.IsLocked);
        var error = Assert.Throws<TenantScopeLockedException>(() => set.BeginScope("globex"));
        Assert.Equal("acme", error.LockedTenantId);
        Assert.Equal("globex", error.RequestedTenantId);
        Assert.Throws<TenantScopeLockedException>(() => set.ForTenant("globex"));
        await Assert.ThrowsAsync<TenantScopeLockedException>(() => Task.Run(() => set.ForTenant("globex").OpenSession()));
        await Assert.ThrowsAsync<TenantScopeLockedException>(() => set.DropAsync("globex"));
        using (set.BeginScope("acme"))
        {
            await using var session = set.ForTenant("acme").OpenSession();
            Assert.Equal("customers/acme", session.DatabaseName);
        }
    }
}
