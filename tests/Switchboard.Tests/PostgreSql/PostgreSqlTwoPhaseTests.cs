using Dapper;
using Npgsql;
using Switchboard.Tests.Rig;
using Switchboard.Tests.Transactions;

namespace Switchboard.Tests.PostgreSql;

/// <summary>PostgreSQL as a two-phase commit participant: PREPARE TRANSACTION, pg_prepared_xacts, and its refusals.</summary>
[Collection(ServersCollection.Name)]
public sealed class PostgreSqlTwoPhaseTests(DatabaseServers servers) : IAsyncLifetime
{
    private TwoPhaseRig _rig = null!;

    public async Task InitializeAsync() => _rig = await TwoPhaseRig.CreateAsync(servers);

    public async Task DisposeAsync() => await _rig.DisposeAsync();

    [Fact]
    public async Task Two_phase_commit_is_refused_before_any_work_when_max_prepared_transactions_is_0()
    {
        await using var server = await ExtraPostgreSql.StartAsync("max_prepared_transactions=0", "fsync=off");
        await using (var admin = new NpgsqlConnection($"Host=127.0.0.1;Port={server.Port};Username=app;Password={server.Password};Database=postgres"))
        {
            await admin.OpenAsync();
            await admin.ExecuteAsync("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL); INSERT INTO accounts VALUES (1, 100), (2, 100)");
        }

        var catalog = _rig.Catalog(more: b => b
            .AddDatabase("legacy", server.Url())
            .AddDatabase("legacy-lr", server.Url(), o => o.TwoPhaseCommit = false));
        var error = await Assert.ThrowsAsync<TwoPhaseCommitUnavailableException>(() => catalog.BeginDistributedAsync("orders", "legacy"));
        Assert.Equal("legacy", error.DatabaseName);
        Assert.Contains("'legacy'", error.Message);
        Assert.Contains($"127.0.0.1:{server.Port}", error.Message);
        Assert.Contains("max_prepared_transactions = 0", error.Message);
        Assert.Contains("\"TwoPhaseCommit\": false", error.Message);
        Assert.DoesNotContain(server.Password, error.ToString());

        // Refused before any work: no connection is left checked out, nothing was begun on the healthy participant.
        Assert.Equal(0, catalog.GetEngine("orders").GetPoolStatistics().InUse);
        Assert.Equal(0, catalog.GetEngine("legacy").GetPoolStatistics().InUse);
        var log = await catalog.Transactions.GetExistingLogAsync(Internal.IOBehavior.Asynchronous, default);
        Assert.Empty(await _rig.PreparedAsync("." + log!.LogId + "."));
        await using (var refused = catalog.OpenSession("legacy"))
        {
            Assert.Null(await refused.ExecuteScalarAsync<string>("SELECT to_regclass('switchboard_tx_decision')::text")); // no table made there
        }

        // The same server, configured as unable to prepare, joins as the last resource and commits with the others.
        await using var tx = await catalog.BeginDistributedAsync("orders", "billing", "legacy-lr");
        await TwoPhaseRig.TransferAsync(tx, "orders", "legacy-lr", 15, async: true);
        await tx.Session("billing").ExecuteAsync("UPDATE accounts SET balance = balance + 1 WHERE id = 2");
        await tx.CommitAsync();
        Assert.Equal(85, await _rig.BalanceAsync("orders", 1));
        await using var check = catalog.OpenSession("legacy");
        Assert.Equal(115, await check.ExecuteScalarAsync<long>("SELECT balance FROM accounts WHERE id = 1"));
    }

    [Fact]
    public async Task A_failed_statement_on_a_participant_rolls_the_whole_transaction_back_at_commit()
    {
        var catalog = _rig.Catalog();
        await using var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 5, async: true);
        await Assert.ThrowsAsync<DatabaseCommandException>(() => tx.Session("orders").ExecuteAsync("SELECT * FROM no_such_table"));
        var error = await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync());
        Assert.Equal(DistributedOutcome.RolledBack, error.Outcome);
        Assert.Contains("a statement failed on 'orders'", error.Message);
        Assert.Equal("orders", error.DatabaseName);
        Assert.Contains("failed here earlier", error.Participants.Single(p => p.Database == "orders").Error);
        Assert.Contains("no_such_table", error.Participants.Single(p => p.Database == "orders").Error); // which statement
        Assert.False(error.IsTransient); // a missing table: retrying will not help
        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(1));
    }

    [Fact]
    public async Task A_branch_that_aborted_behind_the_sessions_back_is_not_taken_for_prepared()
    {
        // The error goes through raw ADO.NET, so the session never sees it: PREPARE TRANSACTION alone would answer ROLLBACK
        // and look like a success. The dialect's guard makes it fail, and everything rolls back.
        var catalog = _rig.Catalog();
        await using var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 5, async: true);
        var orders = tx.Session("orders");
        await Assert.ThrowsAsync<PostgresException>(() => orders.Connection.ExecuteAsync("SELECT 1/0", transaction: orders.Transaction));
        var error = await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync());
        Assert.Equal(DistributedOutcome.RolledBack, error.Outcome);
        Assert.Contains("25P02", error.ToString());
        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(1));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
    }

    [Fact]
    public async Task Prepared_branches_are_named_by_global_id_and_qualifier_in_pg_prepared_xacts()
    {
        var catalog = _rig.Catalog(o => o.FaultHandler = (p, _) =>
        {
            if (p == Switchboard.Transactions.FaultPoint.BeforeDecision)
            {
                throw new SimulatedCrashException("before decision");
            }
        });
        var tx = await catalog.BeginDistributedAsync("billing", "orders");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 5, async: true);
        await Assert.ThrowsAsync<SimulatedCrashException>(() => tx.CommitAsync());
        await tx.DisposeAsync();

        await using (var connection = await _rig.Observer.GetEngine("orders").OpenConnectionAsync())
        {
            var row = await connection.QuerySingleAsync<(string Gid, string Owner)>(
                "SELECT gid, owner FROM pg_prepared_xacts WHERE database = current_database()");
            Assert.Equal(tx.Id + "/1", row.Gid); // orders was the second participant
            Assert.Equal("app", row.Owner);
        }

        await catalog.DisposeAsync();
        var report = await _rig.Catalog().RecoverTransactionsAsync();
        Assert.Contains(report.Actions, a => a.TransactionId == tx.Id && a.Database == "orders" && a.Branch == "1" && a.Action == RecoveryActionKind.Committed);
    }
}
