using Switchboard.Sharding;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.PostgreSql;

/// <summary>A write across two PostgreSQL shards: refused as a plain session, atomic through the map's distributed transaction.</summary>
[Collection(ServersCollection.Name)]
public sealed class PostgreSqlCrossShardTests(DatabaseServers servers)
{
    [Fact]
    public async Task A_write_across_shards_commits_on_every_shard_or_none_through_two_phase_commit()
    {
        var folder = Directory.CreateTempSubdirectory("switchboard-xshard-").FullName;
        try
        {
            await using var catalog = SwitchboardCatalog.CreateBuilder()
                .AddDatabase("s0", servers.PgUrl(await servers.CreatePgDatabaseAsync("xshard_0")))
                .AddDatabase("s1", servers.PgUrl(await servers.CreatePgDatabaseAsync("xshard_1")))
                .AddShardMap("accounts", ShardStrategy.Range, [], o => o.Ranges = [new(null, "s0"), new(1000, "s1")])
                .ConfigureTransactions(o =>
                {
                    o.LogFolder = Path.Combine(folder, "log");
                    o.RecoverOnStart = false;
                })
                .Build();
            var map = catalog.Shards("accounts");
            foreach (var shard in map.Shards)
            {
                await using var session = shard.OpenSession();
                await session.ExecuteAsync("CREATE TABLE balances (id BIGINT PRIMARY KEY, amount INTEGER NOT NULL)");
                await session.ExecuteAsync("INSERT INTO balances VALUES (@id, 100)", new { id = shard.Index == 0 ? 1 : 1001 });
                await session.CommitAsync();
            }

            var refused = await Assert.ThrowsAsync<CrossShardWriteException>(() => map.OpenSessionForKeysAsync([1, 1001]).AsTask());
            Assert.Contains("BeginDistributedAsync", refused.Message);

            async Task TransferAsync(bool commit)
            {
                await using var tx = await map.BeginDistributedAsync([1, 1001]);
                await tx.Session(map.ForKey(1).DatabaseName).ExecuteAsync("UPDATE balances SET amount = amount - 30 WHERE id = 1");
                await tx.Session(map.ForKey(1001).DatabaseName).ExecuteAsync("UPDATE balances SET amount = amount + 30 WHERE id = 1001");
                if (commit)
                {
                    await tx.CommitAsync();
                }
                else
                {
                    await tx.RollbackAsync();
                }
            }

            await TransferAsync(commit: false);
            Assert.Equal(200, await map.SumAsync<long>("SELECT SUM(amount) FROM balances"));
            Assert.Equal(100, await map.MinAsync<int>("SELECT MIN(amount) FROM balances"));
            await TransferAsync(commit: true);
            Assert.Equal(200, await map.SumAsync<long>("SELECT SUM(amount) FROM balances"));
            Assert.Equal(70, await map.MinAsync<int>("SELECT MIN(amount) FROM balances"));
            Assert.Equal(130, await map.MaxAsync<int>("SELECT MAX(amount) FROM balances"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
