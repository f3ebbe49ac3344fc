using Dapper;
using Npgsql;
using Switchboard.Sharding;
using Switchboard.Tenants;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.PostgreSql;

/// <summary>
/// Distributed transactions give back every connection they take: many cross-shard two-phase commits, rollbacks, aborts
/// and abandoned transactions on small pools leave nothing checked out, nothing prepared and no extra server backend.
/// Tenant databases are refused as participants before anything is opened, and tenant sessions next to them release
/// their connections under the set's cap.
/// </summary>
[Collection(ServersCollection.Name)]
public sealed class PostgreSqlDistributedReleaseTests(DatabaseServers servers) : IDisposable
{
    private const int PoolSize = 4;
    private readonly string _folder = Directory.CreateTempSubdirectory("switchboard-release-").FullName;

    [Fact]
    public async Task Cross_shard_two_phase_transactions_return_every_connection_under_a_pool_of_four()
    {
        var names = new[] { await servers.CreatePgDatabaseAsync("release_0"), await servers.CreatePgDatabaseAsync("release_1") };
        var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("s0", servers.PgUrl(names[0]), o => o.Pool.MaxSize = PoolSize)
            .AddDatabase("s1", servers.PgUrl(names[1]), o => o.Pool.MaxSize = PoolSize)
            .AddShardMap("accounts", ShardStrategy.Range, [], o => o.Ranges = [new(null, "s0"), new(1000, "s1")])
            .ConfigureTransactions(o =>
            {
                o.LogFolder = Path.Combine(_folder, "log");
                o.RecoverOnStart = false;
            })
            .Build();
        var map = catalog.Shards("accounts");
        try
        {
            foreach (var shard in map.Shards)
            {
                await using var session = shard.OpenSession();
                await session.ExecuteAsync("CREATE TABLE balances (id BIGINT PRIMARY KEY, amount INTEGER NOT NULL)");
                await session.ExecuteAsync("INSERT INTO balances SELECT g, 1000 FROM generate_series(@from, @from + 7) g", new { from = shard.Index * 1000L });
                await session.CommitAsync();
            }

            // Eight workers on pools of four: checkouts wait for each other, and every way a transaction can end is taken.
            var committed = new int[8];
            await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
            {
                for (var i = 0; i < 12; i++)
                {
                    long from = worker, to = 1000 + worker;
                    var ending = (worker + i) % 5;
                    var tx = await map.BeginDistributedAsync([from, to]);
                    try
                    {
                        var debit = tx.Session(map.ForKey(from).DatabaseName);
                        var credit = tx.Session(map.ForKey(to).DatabaseName);
                        await debit.ExecuteAsync("UPDATE balances SET amount = amount - 1 WHERE id = @from", new { from });
                        await credit.ExecuteAsync("UPDATE balances SET amount = amount + 1 WHERE id = @to", new { to });
                        switch (ending)
                        {
                            case 0 or 1:
                                await tx.CommitAsync();
                                committed[worker]++;
                                break;
                            case 2:
                                await tx.RollbackAsync();
                                break;
                            case 3:
                                // Application code disposing the enlisted sessions (await using) before the commit.
                                await debit.DisposeAsync();
                                await credit.DisposeAsync();
                                await tx.CommitAsync();
                                committed[worker]++;
                                break;
                            default:
                                // A failed statement aborts PostgreSQL's branch: the commit must roll everything back.
                                await Assert.ThrowsAsync<DatabaseCommandException>(() => credit.ExecuteAsync("SELECT 1 / 0"));
                                var failure = await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync());
                                Assert.Equal(DistributedOutcome.RolledBack, failure.Outcome);
                                break;
                        }
                    }
                    finally
                    {
                        await tx.DisposeAsync(); // abandoned (never committed) transactions roll back here
                    }
                }

                // Abandoned without commit or rollback.
                await using (var abandoned = await map.BeginDistributedAsync([(long)worker, 1000L + worker]))
                {
                    await abandoned.Session("s0").ExecuteAsync("UPDATE balances SET amount = 0 WHERE id = @worker", new { worker });
                }
            })));

            foreach (var shard in map.Shards)
            {
                var pool = shard.Engine.GetPoolStatistics();
                Assert.True(pool.InUse == 0 && pool.Waiting == 0, $"{shard.DatabaseName}: {pool}");
            }

            Assert.Equal(8 * 1000 - committed.Sum(), await map.SumAsync<long>("SELECT SUM(amount) FROM balances WHERE id < 1000"));
            Assert.Equal(8 * 1000 + committed.Sum(), await map.SumAsync<long>("SELECT SUM(amount) FROM balances WHERE id >= 1000"));
            for (var worker = 0; worker < 8; worker++)
            {
                await using var session = map.ForKey(worker).OpenSession(SessionIntent.ReadOnly);
                Assert.Equal(1000 - committed[worker], await session.QuerySingleAsync<int>("SELECT amount FROM balances WHERE id = @worker", new { worker }));
            }

            await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
            await admin.OpenAsync();
            Assert.Equal(0, await admin.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pg_prepared_xacts WHERE database = ANY(@names)", new { names }));

            // Idle pooled connections may stay open, never more than the pool; none is left in a transaction.
            var backends = await BackendsAsync(admin, names);
            Assert.True(backends.Total <= 2 * PoolSize, $"{backends.Total} backends on the shard databases");
            Assert.Equal(0, backends.InTransaction);

            await catalog.DisposeAsync();
            Assert.Equal(0, await WaitForNoBackendsAsync(admin, names));
        }
        finally
        {
            await catalog.DisposeAsync();
        }
    }

    [Fact]
    public async Task Tenant_databases_are_refused_as_participants_and_tenant_sessions_release_the_cap()
    {
        var shard = await servers.CreatePgDatabaseAsync("release_shard");
        var prefix = "rel" + Guid.NewGuid().ToString("N")[..6];
        var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("s0", servers.PgUrl(shard), o => o.Pool.MaxSize = PoolSize)
            .AddDatabase("s1", servers.PgUrl(await servers.CreatePgDatabaseAsync("release_shard")), o => o.Pool.MaxSize = PoolSize)
            .AddTenants("customers", servers.PgUrl(prefix + "_{tenant}"), t =>
            {
                t.MaxOpenConnections = PoolSize;
                t.Pool.MaxSize = 2;
                t.Pool.CheckoutTimeout = TimeSpan.FromSeconds(30);
                t.Schema = "CREATE TABLE notes (id SERIAL PRIMARY KEY, body TEXT NOT NULL)";
            })
            .ConfigureTransactions(o =>
            {
                o.LogFolder = Path.Combine(_folder, "log");
                o.RecoverOnStart = false;
            })
            .Build();
        var customers = catalog.Tenants("customers");
        var tenants = Enumerable.Range(0, 6).Select(i => "t" + i).ToArray();
        var databases = tenants.Select(t => prefix + "_" + t).ToArray();
        try
        {
            foreach (var tenant in tenants)
            {
                await customers.CreateAsync(tenant);
            }

            // Refused before any connection: recovery would never find a tenant's prepared branch.
            var before = customers.GetStatistics();
            var refused = await Assert.ThrowsAsync<TwoPhaseCommitUnavailableException>(() => catalog.BeginDistributedAsync(["customers/t0", "s0"], null));
            Assert.Equal("customers/t0", Assert.Single(refused.Problems).Key);
            Assert.Contains("tenant", refused.Message);
            Assert.DoesNotContain(servers.PgPassword, refused.Message);
            Assert.Throws<TwoPhaseCommitUnavailableException>(() => catalog.BeginDistributed("s1", "customers/t1"));
            var refusedStats = customers.GetStatistics();
            Assert.Equal((before.EnginesCreated, before.OpenConnections, 0), (refusedStats.EnginesCreated, refusedStats.OpenConnections, refusedStats.InUseConnections));
            Assert.Equal(0, catalog.GetEngine("s0").GetPoolStatistics().TotalCheckouts);

            // Tenant sessions committing and rolling back under a cap of four while two-phase commits run on the shards.
            var expected = new int[tenants.Length];
            var shardWork = Task.Run(async () =>
            {
                for (var i = 0; i < 20; i++)
                {
                    await using var tx = await catalog.BeginDistributedAsync("s0", "s1");
                    await tx.Session("s0").ExecuteAsync("SELECT 1");
                    await tx.Session("s1").ExecuteAsync("SELECT 1");
                    if (i % 2 == 0)
                    {
                        await tx.CommitAsync();
                    }
                }
            });
            await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
            {
                for (var i = 0; i < 25; i++)
                {
                    var index = (worker + i) % tenants.Length;
                    await using var session = await customers.ForTenant(tenants[index]).OpenSessionAsync();
                    await session.ExecuteAsync("INSERT INTO notes (body) VALUES (@body)", new { body = $"{worker}:{i}" });
                    if (i % 3 == 0)
                    {
                        await session.RollbackAsync();
                    }
                    else
                    {
                        await session.CommitAsync();
                        Interlocked.Increment(ref expected[index]);
                    }

                    var stats = customers.GetStatistics();
                    Assert.True(stats.OpenConnections <= PoolSize, stats.ToString());
                }
            })).Append(shardWork));

            var after = customers.GetStatistics();
            Assert.True(after.InUseConnections == 0 && after.Waiting == 0 && after.PeakOpenConnections <= PoolSize, after.ToString());
            for (var i = 0; i < tenants.Length; i++)
            {
                await using var session = await customers.ForTenant(tenants[i]).OpenSessionAsync(SessionOptions.ReadOnly);
                Assert.Equal(expected[i], await session.QuerySingleAsync<int>("SELECT COUNT(*)::int FROM notes"));
            }

            await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
            await admin.OpenAsync();
            var backends = await BackendsAsync(admin, databases);
            Assert.True(backends.Total <= PoolSize, $"{backends.Total} backends on the tenant databases");
            Assert.Equal(0, backends.InTransaction);
            Assert.Equal(0, customers.GetStatistics().InUseConnections);

            await catalog.DisposeAsync();
            Assert.Equal(0, await WaitForNoBackendsAsync(admin, databases));
        }
        finally
        {
            await catalog.DisposeAsync();
            await using var admin = new NpgsqlConnection(servers.PgAdminConnectionString());
            await admin.OpenAsync();
            foreach (var database in databases)
            {
                await admin.ExecuteAsync($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
            }
        }
    }

    private static async Task<(long Total, long InTransaction)> BackendsAsync(NpgsqlConnection admin, string[] databases)
    {
        var row = await admin.QuerySingleAsync<(long, long)>(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE state LIKE 'idle in transaction%') FROM pg_stat_activity WHERE datname = ANY(@databases)",
            new { databases });
        return row;
    }

    /// <summary>A backend lingers a moment after its client closed the connection: wait (bounded) for the count to reach zero.</summary>
    private static async Task<long> WaitForNoBackendsAsync(NpgsqlConnection admin, string[] databases)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        long count;
        while ((count = (await BackendsAsync(admin, databases)).Total) > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        return count;
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
