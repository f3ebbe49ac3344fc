using Dapper;
using Switchboard.Tests.Rig;
using Switchboard.Tests.Transactions;
using Switchboard.Transactions;

namespace Switchboard.Tests.Sqlite;

/// <summary>A SQLite file as the last resource of a distributed transaction: its own commit is the decision.</summary>
[Collection(ServersCollection.Name)]
public sealed class SqliteLastResourceTests(DatabaseServers servers) : IAsyncLifetime
{
    private TwoPhaseRig _rig = null!;

    public async Task InitializeAsync() => _rig = await TwoPhaseRig.CreateAsync(servers);

    public async Task DisposeAsync() => await _rig.DisposeAsync();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_last_resource_failing_to_commit_rolls_the_prepared_participants_back(bool async)
    {
        await using (var setup = _rig.Observer.OpenSession("audit"))
        {
            await setup.ExecuteAsync("CREATE TABLE parent (id INTEGER PRIMARY KEY)");
            await setup.ExecuteAsync("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)");
            await setup.CommitAsync();
        }

        var catalog = _rig.Catalog();
        var tx = async ? await catalog.BeginDistributedAsync("orders", "billing", "audit") : catalog.BeginDistributed("orders", "billing", "audit");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 30, async);
        await tx.Session("audit").ExecuteAsync("UPDATE accounts SET balance = 0");
        await tx.Session("audit").ExecuteAsync("INSERT INTO child VALUES (7)"); // a foreign key checked only at COMMIT
        var error = async
            ? await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync())
            : Assert.Throws<DistributedTransactionException>(() => tx.Commit());

        Assert.Equal(DistributedOutcome.RolledBack, error.Outcome);
        Assert.Contains("last resource 'audit' could not commit", error.Message);
        Assert.All(error.Participants, p => Assert.Equal(ParticipantOutcome.RolledBack, p.Outcome));
        Assert.Contains("FOREIGN KEY", error.Participants.Single(p => p.Database == "audit").Error);
        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(1));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
        await tx.DisposeAsync();
    }

    [Theory]
    [InlineData(nameof(FaultPoint.BeforeDecision), false)]
    [InlineData(nameof(FaultPoint.AfterDecision), true)]
    public async Task Recovery_reads_the_decision_inside_the_last_resource(string pointName, bool committed)
    {
        var point = Enum.Parse<FaultPoint>(pointName);
        var catalog = _rig.Catalog(o => o.FaultHandler = (p, _) =>
        {
            if (p == point)
            {
                throw new SimulatedCrashException(pointName);
            }
        });
        var tx = await catalog.BeginDistributedAsync("orders", "billing", "audit");
        await TwoPhaseRig.TransferAsync(tx, "orders", "audit", 20, async: true);
        await tx.Session("billing").ExecuteAsync("UPDATE accounts SET balance = balance + 20 WHERE id = 2");
        await Assert.ThrowsAsync<SimulatedCrashException>(() => tx.CommitAsync());
        await tx.DisposeAsync();
        await catalog.DisposeAsync();

        // No coordinator log was written: the decision (or its absence) is in audit.
        Assert.False(File.Exists(Path.Combine(_rig.LogFolder, "switchboard-transactions.db")) && await LogHasDecisionAsync(tx.Id));
        var restarted = _rig.Catalog();
        var report = await restarted.RecoverTransactionsAsync();
        Assert.True(report.IsComplete, string.Join("; ", report.Problems));
        Assert.Equal(2, report.Actions.Count(a => a.TransactionId == tx.Id
            && a.Action == (committed ? RecoveryActionKind.Committed : RecoveryActionKind.RolledBack)));
        Assert.Equal(committed ? (80L, 100L, 120L) : (100L, 100L, 100L), await _rig.BalancesAsync(1));
        Assert.Equal(committed ? 120 : 100, await _rig.BalanceAsync("billing", 2));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));

        // The decision row is forgotten once nothing is prepared anywhere; a recorded abort is kept for a while.
        await using var connection = await _rig.Observer.GetEngine("audit").OpenConnectionAsync();
        var left = await connection.QueryAsync<string>("SELECT outcome FROM switchboard_tx_decision WHERE gtid = @id", new { id = tx.Id });
        Assert.Equal(committed ? [] : ["A"], left);
    }

    private async Task<bool> LogHasDecisionAsync(string id)
    {
        await using var log = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + Path.Combine(_rig.LogFolder, "switchboard-transactions.db"));
        await log.OpenAsync();
        return await log.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM switchboard_tx_decision WHERE gtid = @id", new { id }) > 0;
    }
}
