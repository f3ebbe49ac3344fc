using System.Diagnostics;
using Dapper;
using Microsoft.Data.Sqlite;
using Switchboard.Tenants;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.Sqlite;

/// <summary>Tenant sets of SQLite files: creating and dropping tenants, the connection limit, eviction and catalog tables.</summary>
[Collection(OpenFilesCollection.Name)]
public sealed class SqliteTenantTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("switchboard-tenants-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Template()
    {
        var path = Path.Combine(_folder, "template.db");
        if (!File.Exists(path))
        {
            using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
            connection.Open();
            connection.Execute("PRAGMA journal_mode = wal; CREATE TABLE notes (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, body TEXT NOT NULL); INSERT INTO notes (tenant, body) VALUES ('template', 'welcome')");
        }

        return path;
    }

    // mode=rwc: most tests here use tenants as scratch files, created on first use (without it, opening a missing one fails).
    private SwitchboardCatalog Catalog(Action<TenantSetOptions>? configure = null, bool createOnOpen = true) => SwitchboardCatalog.CreateBuilder()
        .AddTenants("customers", $"sqlite:///{_folder}/tenants/{{tenant}}.db" + (createOnOpen ? "?mode=rwc" : ""), configure)
        .Build();

    /// <summary>How many files of this folder the process has open, as the operating system counts them.</summary>
    internal static int OpenFiles(string folder, string suffix = ".db") =>
        Directory.EnumerateFileSystemEntries("/proc/self/fd").Count(fd =>
        {
            try
            {
                return new FileInfo(fd).LinkTarget is { } target && target.StartsWith(folder, StringComparison.Ordinal) && target.EndsWith(suffix, StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false; // closed while enumerating
            }
        });

    [Fact]
    public async Task A_tenant_is_created_from_the_template_and_schema_and_dropped()
    {
        await using var catalog = Catalog(o =>
        {
            o.Template = Template();
            o.Schema = "CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (42)";
        }, createOnOpen: false);
        var set = catalog.Tenants("customers");
        Assert.False(await set.ExistsAsync("acme"));
        await set.CreateAsync("acme");
        Assert.True(await set.ExistsAsync("acme"));
        await using (var session = await set.ForTenant("acme").OpenSessionAsync())
        {
            Assert.Equal("welcome", await session.ExecuteScalarAsync<string>("SELECT body FROM notes WHERE tenant = 'template'"));
            Assert.Equal(42, await session.ExecuteScalarAsync<int>("SELECT x FROM extra"));
            await session.ExecuteAsync("INSERT INTO notes (tenant, body) VALUES ('acme', 'mine')");
            await session.CommitAsync();
        }

        var again = await Assert.ThrowsAsync<DatabaseCommandException>(() => set.CreateAsync("acme"));
        Assert.Equal("customers/acme", again.DatabaseName);
        Assert.False(again.IsTransient); // the file exists: not a lost connection, and no retry will help

        // Dropping is refused while a session holds the tenant, then closes its pool and deletes the files.
        var holder = set.ForTenant("acme").OpenSession();
        Assert.Contains("in use", (await Assert.ThrowsAsync<InvalidOperationException>(() => set.DropAsync("acme"))).Message);
        await holder.DisposeAsync();
        Assert.True(await set.DropAsync("acme"));
        Assert.False(await set.DropAsync("acme"));
        Assert.Empty(Directory.GetFiles(Path.Combine(_folder, "tenants"), "acme.db*"));
        Assert.Equal(0, OpenFiles(_folder));
    }

    [Fact]
    public async Task Opening_a_tenant_that_was_never_created_fails_and_leaves_no_file()
    {
        await using var catalog = Catalog(createOnOpen: false);
        var set = catalog.Tenants("customers");
        await using (var session = set.ForTenant("nosuch").OpenSession())
        {
            var error = await Assert.ThrowsAsync<DatabaseConnectionException>(() => session.ExecuteAsync("SELECT 1"));
            Assert.Equal("customers/nosuch", error.DatabaseName);
            Assert.Contains("nosuch.db does not exist", error.Message);
            Assert.Contains("CreateAsync", error.Message);
        }

        Assert.False(File.Exists(Path.Combine(_folder, "tenants", "nosuch.db")));
        Assert.False(await set.ExistsAsync("nosuch"));

        // Once created, the same id opens; dropping it still closes its pooled files.
        await set.CreateAsync("nosuch");
        await using (var session = await set.ForTenant("nosuch").OpenSessionAsync())
        {
            Assert.Equal(1, await session.ExecuteScalarAsync<int>("SELECT 1"));
        }

        Assert.True(await set.DropAsync("nosuch"));
        Assert.Equal(0, OpenFiles(_folder));
    }

    [Fact]
    public async Task A_checkout_beyond_the_limit_waits_then_fails_naming_the_tenant()
    {
        await using (var catalog = Catalog(o =>
        {
            o.MaxOpenConnections = 1;
            o.Pool.CheckoutTimeout = TimeSpan.FromMilliseconds(300);
        }))
        {
            var set = catalog.Tenants("customers");
            await using var held = await set.ForTenant("a").OpenConnectionAsync();
            var started = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<TenantConnectionLimitException>(() => set.ForTenant("b").OpenConnectionAsync().AsTask());
            Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));
            Assert.Equal("b", error.TenantId);
            Assert.Contains("tenant 'b'", error.Message);
            Assert.Contains("customers", error.Message);
            Assert.True(error.IsTransient);
            Assert.Equal(1, set.GetStatistics().LimitTimeouts);
        }

        // A waiter is served as soon as the connection goes back: a's idle connection is closed to make room for b. A
        // generous timeout here, so that a slow machine cannot turn the wait into a timeout.
        await using (var catalog = Catalog(o =>
        {
            o.MaxOpenConnections = 1;
            o.Pool.CheckoutTimeout = TimeSpan.FromSeconds(30);
        }))
        {
            var set = catalog.Tenants("customers");
            var held = await set.ForTenant("a").OpenConnectionAsync();
            var waiting = set.ForTenant("b").OpenConnectionAsync(CancellationToken.None).AsTask();
            var deadline = Stopwatch.StartNew();
            while (set.GetStatistics().Waiting == 0 && !waiting.IsCompleted && deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(10);
            }

            Assert.False(waiting.IsCompleted);
            Assert.Equal(1, set.GetStatistics().Waiting);
            await held.DisposeAsync();
            await using var b = await waiting;
            var stats = set.GetStatistics();
            Assert.Equal((1, 1, 1), (stats.OpenConnections, stats.InUseConnections, stats.PeakOpenConnections));
            Assert.True(stats.IdleConnectionsClosed >= 1);
            Assert.Equal(0, stats.LimitTimeouts);
            Assert.Equal(1, OpenFiles(_folder));
        }
    }

    [Fact]
    public async Task Idle_connections_of_other_tenants_are_closed_rather_than_exceeding_the_limit()
    {
        await using var catalog = Catalog(o => o.MaxOpenConnections = 3);
        var set = catalog.Tenants("customers");
        for (var i = 0; i < 12; i++)
        {
            await using var session = await set.ForTenant($"t{i}").OpenSessionAsync();
            await session.ExecuteAsync("CREATE TABLE IF NOT EXISTS x (v INTEGER)");
            await session.CommitAsync();
            Assert.InRange(OpenFiles(_folder), 1, 3);
        }

        var stats = set.GetStatistics();
        Assert.Equal(3, stats.OpenConnections);   // the three most recent tenants keep an idle connection each
        Assert.Equal(3, stats.PeakOpenConnections);
        Assert.Equal(9, stats.IdleConnectionsClosed);
        Assert.Equal(12, stats.Engines);
        Assert.Equal(0, stats.LimitWaits);
    }

    [Fact]
    public async Task Idle_and_least_recently_used_engines_are_evicted_with_their_pools()
    {
        await using var catalog = Catalog(o =>
        {
            o.MaxEngines = 5;
            o.IdleTimeout = TimeSpan.FromMilliseconds(300);
        });
        var set = catalog.Tenants("customers");
        var pinned = set.ForTenant("pinned").OpenSession();
        await pinned.ExecuteAsync("CREATE TABLE x (v INTEGER)");
        for (var i = 0; i < 20; i++)
        {
            await using var session = set.ForTenant($"t{i}").OpenSession();
            await session.ExecuteAsync("CREATE TABLE x (v INTEGER)");
            await session.CommitAsync();
            Assert.InRange(set.GetStatistics().Engines, 1, 5);
        }

        Assert.True(set.GetStatistics().EnginesEvicted >= 15);
        Assert.NotNull(set.ForTenant("pinned").GetPoolStatistics()); // a session pins its engine

        // Once idle longer than the timeout, the sweeper evicts the rest and closes their files.
        var deadline = Stopwatch.StartNew();
        while ((set.GetStatistics().Engines > 1 || OpenFiles(_folder) > 1) && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50);
        }

        Assert.Equal(1, set.GetStatistics().Engines);
        Assert.Equal(1, OpenFiles(_folder));
        await pinned.CommitAsync();
        await pinned.DisposeAsync();
        Assert.InRange(set.EvictIdle(TimeSpan.Zero), 0, 1); // 0 if the sweeper was quicker
        Assert.Equal(0, set.GetStatistics().Engines);
        Assert.Equal(0, OpenFiles(_folder));
        Assert.Equal(0, set.GetStatistics().OpenConnections);
    }

    [Fact]
    public async Task Tenants_can_be_resolved_from_a_catalog_table()
    {
        var control = Path.Combine(_folder, "control.db");
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("control", $"sqlite:///{control}")
            .AddTenants("customers", new TenantSetOptions { Directory = new TenantDirectoryOptions { Database = "control", Table = "tenants" } })
            .UseEnvironment(name => name == "TENANT_ROOT" ? _folder : null)
            .Build();
        await using (var session = catalog.OpenSession("control"))
        {
            await session.ExecuteAsync("CREATE TABLE tenants (tenant_id TEXT PRIMARY KEY, url TEXT NOT NULL)");
            await session.ExecuteAsync("INSERT INTO tenants VALUES ('acme', 'sqlite:///${TENANT_ROOT}/elsewhere/acme-data.db'), ('bad', 'sqlite://host/x.db')");
            await session.CommitAsync();
        }

        var set = catalog.ForTenant("acme").Set;
        await using (var acme = catalog.ForTenant("acme").OpenSession())
        {
            Assert.Equal(Path.Combine(_folder, "elsewhere", "acme-data.db"), acme.Engine.Definition.Target);
        }

        Assert.Contains("no row", (await Assert.ThrowsAsync<TenantNotFoundException>(() => set.ForTenant("nobody").OpenSessionAsync().AsTask())).Message);
        var bad = await Assert.ThrowsAsync<CatalogConfigurationException>(() => set.ForTenant("bad").OpenSessionAsync().AsTask());
        Assert.Contains("customers/bad", bad.Message);
    }
}
