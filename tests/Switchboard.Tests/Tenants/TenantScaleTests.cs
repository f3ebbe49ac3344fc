using System.Collections.Concurrent;
using System.Diagnostics;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using Switchboard.Tenants;
using Switchboard.Tests.Rig;
using Switchboard.Tests.Sqlite;
using Xunit.Abstractions;

namespace Switchboard.Tests.Tenants;

/// <summary>
/// 2,000 SQLite tenants and 200 PostgreSQL tenants sharing one cap of 32 open connections (one ConnectionLimitGroup),
/// worked on by 48 concurrent callers. Checked from three sides while it runs: the limit's statistics, the server's
/// pg_stat_activity, and the process's open file descriptors (/proc/self/fd) for the SQLite files.
/// </summary>
[Collection(ServersCollection.Name)]
public sealed class TenantScaleTests(DatabaseServers servers, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Cap = 32;
    private const int SqliteTenants = 2000;
    private const int PgTenants = 200;
    private readonly string _prefix = "ts" + Guid.NewGuid().ToString("N")[..6];
    private readonly string _folder = Directory.CreateTempSubdirectory("switchboard-scale-").FullName;
    private string _pgTemplate = "";

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // Whatever happened, leave no tenant database behind on the shared server.
        await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
        await admin.OpenAsync();
        var left = (await admin.QueryAsync<string>("SELECT datname FROM pg_database WHERE datname LIKE @p", new { p = _prefix + "\\_%" })).ToList();
        foreach (var database in left)
        {
            await admin.ExecuteAsync($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
        }

        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Thousands_of_tenants_stay_isolated_under_one_connection_cap_and_idle_ones_are_evicted()
    {
        var total = Stopwatch.StartNew();
        var liteTemplate = Path.Combine(_folder, "template.db");
        using (var connection = new SqliteConnection($"Data Source={liteTemplate};Pooling=False"))
        {
            connection.Open();
            connection.Execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, body TEXT NOT NULL)");
        }

        _pgTemplate = _prefix + "_template";
        await using (var admin = new NpgsqlConnection(servers.PgAdminConnectionString()))
        {
            await admin.OpenAsync();
            await admin.ExecuteAsync($"CREATE DATABASE \"{_pgTemplate}\"");
        }

        await using (var template = new NpgsqlConnection(servers.PgAdminConnectionString(_pgTemplate)))
        {
            await template.OpenAsync();
            await template.ExecuteAsync("CREATE TABLE notes (id SERIAL PRIMARY KEY, tenant TEXT NOT NULL, body TEXT NOT NULL)");
        }

        void Common(TenantSetOptions o)
        {
            o.MaxOpenConnections = Cap;
            o.ConnectionLimitGroup = "shared";
            o.MaxEngines = 300;
            o.IdleTimeout = TimeSpan.FromSeconds(1.5);
            o.Pool.MaxSize = 2;
            o.Pool.CheckoutTimeout = TimeSpan.FromSeconds(60);
        }

        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddTenants("lite", $"sqlite:///{_folder}/tenants/{{tenant}}.db", o =>
            {
                Common(o);
                o.Template = liteTemplate;
            })
            .AddTenants("pg", servers.PgUrl(_prefix + "_{tenant}"), o =>
            {
                Common(o);
                o.Template = _pgTemplate;
            })
            .Build();
        var lite = catalog.Tenants("lite");
        var pg = catalog.Tenants("pg");
        var liteIds = Enumerable.Range(0, SqliteTenants).Select(i => $"s{i:0000}").ToList();
        var pgIds = Enumerable.Range(0, PgTenants).Select(i => $"p{i:000}").ToList();

        var phase = Stopwatch.StartNew();
        await Parallel.ForEachAsync(liteIds, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (id, ct) => await lite.CreateAsync(id, ct));
        output.WriteLine($"created {SqliteTenants} SQLite tenant databases in {phase.Elapsed.TotalSeconds:0.0} s");
        phase.Restart();
        await Parallel.ForEachAsync(pgIds, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (id, ct) => await pg.CreateAsync(id, ct));
        output.WriteLine($"created {PgTenants} PostgreSQL tenant databases in {phase.Elapsed.TotalSeconds:0.0} s");

        // Observe the cap from outside while the work runs.
        using var stop = new CancellationTokenSource();
        var observed = new ConcurrentBag<(int Stats, long Server, int Files, int LiteEngines, int PgEngines)>();
        var sampler = Task.Run(async () =>
        {
            await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
            await admin.OpenAsync();
            while (!stop.IsCancellationRequested)
            {
                var stats = lite.GetStatistics();
                var server = await admin.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname LIKE @p AND datname <> @t", new { p = _prefix + "\\_%", t = _pgTemplate });
                observed.Add((stats.OpenConnections, server, SqliteTenantTests.OpenFiles(_folder), stats.Engines, pg.GetStatistics().Engines));
                await Task.Delay(15);
            }
        });

        // 48 callers at once, > the cap: every tenant writes three rows of its own, then every tenant reads them back.
        var work = liteIds.Select(id => (Set: lite, Id: id)).Concat(pgIds.Select(id => (Set: pg, Id: id))).OrderBy(_ => Random.Shared.Next()).ToList();
        phase.Restart();
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = 48 }, async (t, ct) =>
        {
            await using var session = await t.Set.ForTenant(t.Id).OpenSessionAsync(cancellationToken: ct);
            for (var i = 0; i < 3; i++)
            {
                await session.ExecuteAsync("INSERT INTO notes (tenant, body) VALUES (@tenant, @body)", new { tenant = t.Id, body = $"note {i}" }, ct);
            }

            await session.CommitAsync(ct);
        });
        var writes = phase.Elapsed;
        phase.Restart();
        var wrong = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(work.OrderBy(_ => Random.Shared.Next()), new ParallelOptions { MaxDegreeOfParallelism = 48 }, async (t, ct) =>
        {
            // Each tenant in a scope locked to it, as a request handler would run.
            using var scope = t.Set.BeginScope(t.Id, lockTenant: true);
            await using var session = await t.Set.Current.OpenSessionAsync(SessionOptions.ReadOnly, ct);
            var owners = await session.QueryAsync<string>("SELECT tenant FROM notes", cancellationToken: ct);
            if (owners.Count != 3 || owners.Any(o => o != t.Id))
            {
                wrong.Add($"{t.Set.Name}/{t.Id}: {string.Join(",", owners)}");
            }
        });
        var reads = phase.Elapsed;
        await stop.CancelAsync();
        await sampler;

        Assert.Empty(wrong);
        var stats = lite.GetStatistics();
        output.WriteLine($"writes {writes.TotalSeconds:0.0} s, reads {reads.TotalSeconds:0.0} s; {stats}; waits {stats.LimitWaits}, " +
            $"idle closed {stats.IdleConnectionsClosed}, lite engines created {stats.EnginesCreated} evicted {stats.EnginesEvicted}; " +
            $"max seen: stats {observed.Max(o => o.Stats)}, pg_stat_activity {observed.Max(o => o.Server)}, SQLite files {observed.Max(o => o.Files)}, " +
            $"{observed.Count} samples");

        // The cap was reached (the test is not vacuous) and never exceeded, by every measure.
        Assert.Equal(Cap, stats.PeakOpenConnections);
        Assert.Equal(0, stats.LimitTimeouts);
        Assert.True(stats.IdleConnectionsClosed > 0);
        Assert.True(observed.Count > 20);
        Assert.All(observed, o =>
        {
            Assert.InRange(o.Stats, 0, Cap);
            Assert.InRange(o.Server, 0, Cap);
            Assert.InRange(o.Files, 0, Cap);
            Assert.InRange(o.LiteEngines, 0, 300 + 48); // MaxEngines, plus engines pinned by running sessions
        });
        Assert.True(observed.Max(o => o.Server) > 0 && observed.Max(o => o.Files) > 0);
        Assert.True(stats.EnginesEvicted >= SqliteTenants - 300 - 48); // least recently used engines were evicted during the run

        // Idle tenants are evicted and their pools closed: nothing stays open anywhere.
        var deadline = Stopwatch.StartNew();
        // Evicting an engine closes its pool after it leaves the set, so wait for the connections and files too (under load
        // on two cores that can lag the engine count by a moment).
        while ((lite.GetStatistics().Engines > 0 || pg.GetStatistics().Engines > 0 || lite.GetStatistics().OpenConnections > 0
                || SqliteTenantTests.OpenFiles(_folder) > 0) && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100);
        }

        Assert.Equal(0, lite.GetStatistics().Engines);
        Assert.Equal(0, pg.GetStatistics().Engines);
        Assert.Equal(0, lite.GetStatistics().OpenConnections);
        Assert.Equal(0, SqliteTenantTests.OpenFiles(_folder));
        await using (var admin = new NpgsqlConnection(servers.PgAdminConnectionString()))
        {
            await admin.OpenAsync();
            long server = -1;
            for (var attempt = 0; attempt < 40 && server != 0; attempt++)
            {
                server = await admin.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pg_stat_activity WHERE datname LIKE @p", new { p = _prefix + "\\_%" });
                await Task.Delay(server == 0 ? 0 : 50);
            }

            Assert.Equal(0, server);
        }

        // Drop the 200 PostgreSQL tenant databases through the API.
        phase.Restart();
        foreach (var id in pgIds)
        {
            Assert.True(await pg.DropAsync(id)); // one at a time: concurrent DROP DATABASE statements queue on each other
        }

        Assert.False(await pg.ExistsAsync("p000"));
        output.WriteLine($"dropped {PgTenants} PostgreSQL tenant databases in {phase.Elapsed.TotalSeconds:0.0} s; whole test {total.Elapsed.TotalSeconds:0.0} s");
    }
}
