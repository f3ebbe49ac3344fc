using Dapper;
using Switchboard.Tests.Rig;
using Switchboard.Tests.Transactions;
using Switchboard.Transactions;

namespace Switchboard.Tests.MySql;

/// <summary>MariaDB as a two-phase commit participant through XA, with MySql.Data.</summary>
[Collection(ServersCollection.Name)]
public sealed class MySqlTwoPhaseTests(DatabaseServers servers) : IAsyncLifetime
{
    private TwoPhaseRig _rig = null!;

    public async Task InitializeAsync() => _rig = await TwoPhaseRig.CreateAsync(servers);

    public async Task DisposeAsync() => await _rig.DisposeAsync();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Two_databases_on_one_server_are_two_branches_of_one_transaction(bool async)
    {
        var second = await servers.CreateMyDatabaseAsync("tx2");
        var catalog = _rig.Catalog(more: b => b.AddDatabase("billing2", servers.MyUrl(second)));
        await using (var setup = catalog.OpenSession("billing2"))
        {
            await setup.ExecuteAsync("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)");
            await setup.ExecuteAsync("INSERT INTO accounts VALUES (1, 100)");
            await setup.CommitAsync();
        }

        var tx = async ? await catalog.BeginDistributedAsync("billing", "billing2") : catalog.BeginDistributed("billing", "billing2");
        await TwoPhaseRig.TransferAsync(tx, "billing", "billing2", 12, async);
        if (async)
        {
            await tx.CommitAsync();
        }
        else
        {
            tx.Commit();
        }

        await using var check = catalog.OpenSession("billing2");
        Assert.Equal(112, await check.ExecuteScalarAsync<long>("SELECT balance FROM accounts WHERE id = 1"));
        Assert.Equal(88, await _rig.BalanceAsync("billing", 1));
    }

    [Fact]
    public async Task XA_RECOVER_lists_a_prepared_branch_with_its_global_id_and_qualifier()
    {
        var catalog = _rig.Catalog(o => o.FaultHandler = (p, _) =>
        {
            if (p == FaultPoint.BeforeDecision)
            {
                throw new SimulatedCrashException("before decision");
            }
        });
        var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 5, async: true);
        await Assert.ThrowsAsync<SimulatedCrashException>(() => tx.CommitAsync());
        await tx.DisposeAsync(); // ends the MariaDB session, so the prepared branch is detached and listed

        var engine = _rig.Observer.GetEngine("billing");
        await using (var connection = await engine.OpenConnectionAsync())
        {
            var branch = Assert.Single(await engine.Dialect.ListPreparedAsync(connection, true, default), b => b.Branch.GlobalId == tx.Id);
            Assert.Equal("1", branch.Branch.Qualifier);
        }

        // Both branches were prepared, each with its commit record inside: recovery commits.
        await catalog.DisposeAsync();
        var report = await _rig.Catalog().RecoverTransactionsAsync();
        Assert.Contains(report.Actions, a => a.TransactionId == tx.Id && a.Database == "billing" && a.Action == RecoveryActionKind.Committed);
        Assert.Equal((95, 105, 100), await _rig.BalancesAsync(1));
    }

    [Fact]
    public async Task A_prepared_branch_s_session_ends_after_fifteen_idle_minutes_and_completing_it_restores_the_server_s_limit()
    {
        // A coordinator whose host dies leaves its session open until wait_timeout (8 hours by default), the prepared branch
        // attached to it and its rows locked. Prepared, the session waits no longer than 15 minutes.
        var engine = _rig.Observer.GetEngine("billing");
        var dialect = engine.Dialect;
        var branch = new Dialects.TransactionBranch("sb1.tests.000000000000.idle." + Guid.NewGuid().ToString("N")[..6], "0");
        await using var connection = await engine.OpenConnectionAsync();
        var serverDefault = await connection.ExecuteScalarAsync<long>("SELECT @@GLOBAL.wait_timeout");
        Assert.NotEqual(900, serverDefault);
        await dialect.BeginBranchAsync(connection, engine.Definition, branch, System.Data.IsolationLevel.Unspecified, true, default);
        await connection.ExecuteAsync("UPDATE accounts SET balance = balance + 1 WHERE id = 2");
        await dialect.PrepareBranchAsync(connection, null, branch, true, default);
        Assert.Equal(900, await connection.ExecuteScalarAsync<long>("SELECT @@SESSION.wait_timeout"));

        await dialect.CommitPreparedAsync(connection, branch, true, default);
        Assert.Equal(serverDefault, await connection.ExecuteScalarAsync<long>("SELECT @@SESSION.wait_timeout")); // the pooled connection keeps no trace
        Assert.Equal(101, await _rig.BalanceAsync("billing", 2));
    }

    [Fact]
    public async Task A_deadlock_the_caller_caught_makes_the_commit_fail_as_a_retryable_rollback_that_names_it()
    {
        // Another transaction, heavier (more rows changed), so that InnoDB picks the XA branch as the deadlock's victim.
        await using (var setup = new global::MySql.Data.MySqlClient.MySqlConnection(servers.MyAdminConnectionString(_rig.MyDatabase)))
        {
            await setup.OpenAsync();
            await setup.ExecuteAsync("CREATE TABLE ballast (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); "
                + "INSERT INTO ballast SELECT seq, 0 FROM seq_1_to_200");
        }

        var catalog = _rig.Catalog();
        await using var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 5, async: true); // billing: row 1 locked by the branch
        var billing = tx.Session("billing");
        await using (var other = new global::MySql.Data.MySqlClient.MySqlConnection(servers.MyAdminConnectionString(_rig.MyDatabase)))
        {
            await other.OpenAsync();
            await other.ExecuteAsync("BEGIN; UPDATE ballast SET n = n + 1; UPDATE accounts SET balance = balance WHERE id = 2");
            var blocked = Task.Run(() => billing.ExecuteAsync("UPDATE accounts SET balance = balance WHERE id = 2")); // waits for other
            await Task.Delay(300);
            var otherUpdate = Task.Run(() => other.ExecuteAsync("UPDATE accounts SET balance = balance WHERE id = 1")); // closes the cycle
            var deadlock = await Assert.ThrowsAsync<DatabaseCommandException>(() => blocked);
            Assert.Equal(DatabaseErrorKind.Deadlock, deadlock.Kind);
            await otherUpdate;
            await other.ExecuteAsync("ROLLBACK");
        }

        // The caller went on and committed: the whole transaction rolls back, and the report says why and that a retry may work.
        var failure = await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync());
        Assert.Equal(DistributedOutcome.RolledBack, failure.Outcome);
        Assert.True(failure.IsTransient, failure.Message);
        var error = Assert.IsType<DatabaseCommandException>(failure.InnerException);
        Assert.Equal("billing", error.DatabaseName);
        Assert.Equal(DatabaseErrorKind.Deadlock, error.Kind);
        Assert.Contains("a statement failed here earlier in the transaction", error.Message);
        Assert.Contains("Deadlock", error.Message);
        Assert.Contains("a statement failed here earlier", Assert.Single(failure.Participants, p => p.Database == "billing").Error);
        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(1));
    }

    [Fact]
    public async Task A_branch_attached_to_a_live_session_is_not_taken_for_completed()
    {
        // MariaDB answers "Unknown XID" to other sessions while the session that prepared the branch is alive.
        var xid = "sb1.tests.000000000000.live." + Guid.NewGuid().ToString("N")[..6];
        var holder = new global::MySql.Data.MySqlClient.MySqlConnection(servers.MyAdminConnectionString(_rig.MyDatabase));
        await holder.OpenAsync();
        await holder.ExecuteAsync($"XA START '{xid}','0'; UPDATE accounts SET balance = 1 WHERE id = 2; XA END '{xid}','0'; XA PREPARE '{xid}','0'");
        try
        {
            var engine = _rig.Observer.GetEngine("billing");
            var branch = new Dialects.TransactionBranch(xid, "0");
            await using (var other = await engine.OpenConnectionAsync())
            {
                Assert.Equal(BranchCompletion.Attached, await PreparedBranches.CompleteAsync(engine.Dialect, other, branch, commit: true, Internal.IOBehavior.Asynchronous, default));
            }

            // Once that session ends (the dialect's way of letting go), any session can finish the branch. KILL only marks the
            // thread: it lets go of the branch when it next checks, so wait until the server no longer lists it (asserting
            // at once failed now and then, with the branch still attached).
            var thread = holder.ServerThread;
            await engine.Dialect.EndSessionAsync(holder, true, default);
            await using (var other = await engine.OpenConnectionAsync())
            {
                await Wait.UntilAsync(async () => await other.ExecuteScalarAsync<long>(
                    $"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {thread}") == 0, TimeSpan.FromSeconds(10), "the killed session is gone");
                Assert.Equal(BranchCompletion.Done, await PreparedBranches.CompleteAsync(engine.Dialect, other, branch, commit: true, Internal.IOBehavior.Asynchronous, default));
            }

            Assert.Equal(1, await _rig.BalanceAsync("billing", 2));
        }
        finally
        {
            try
            {
                await holder.DisposeAsync();
            }
            catch (global::MySql.Data.MySqlClient.MySqlException)
            {
                // MySql.Data reports the killed session while closing it.
            }
        }
    }

    [Fact]
    public async Task A_user_without_administrative_privileges_can_take_part_on_MariaDB()
    {
        // MariaDB 10.11 has no XA_RECOVER_ADMIN privilege: XA RECOVER is open to every user, so the readiness check passes
        // (on MySQL 8 the same check refuses a user without it, before any work).
        var user = "xa_" + Guid.NewGuid().ToString("N")[..8];
        await using (var admin = await _rig.Observer.GetEngine("billing").OpenConnectionAsync())
        {
            await admin.ExecuteAsync($"CREATE USER '{user}'@'%' IDENTIFIED BY 'Xa-pass-1'; GRANT SELECT, INSERT, UPDATE, DELETE ON `{_rig.MyDatabase}`.* TO '{user}'@'%'");
        }

        try
        {
            // It may not create Switchboard's decision table either: its transactions keep their decision in the coordinator
            // log instead (no ".P" suffix on the id) rather than failing.
            var catalog = _rig.Catalog(billingUrl: $"mysql://{user}:Xa-pass-1@127.0.0.1:{servers.MyPort}/{_rig.MyDatabase}");
            await using (var tx = await catalog.BeginDistributedAsync("orders", "billing"))
            {
                Assert.DoesNotContain(".P", tx.Id[tx.Id.LastIndexOf('.')..], StringComparison.Ordinal);
                await TwoPhaseRig.TransferAsync(tx, "billing", "orders", 8, async: true);
                await tx.CommitAsync();
            }

            Assert.Equal((108, 92, 100), await _rig.BalancesAsync(1));

            // Once an administrator has created the table, a new process keeps decisions in the participants with this user.
            await using (var admin = await _rig.Observer.GetEngine("billing").OpenConnectionAsync())
            {
                await admin.ExecuteAsync(Dialects.TransactionTableSql.Standard.CreateDecisionTable);
            }

            var next = _rig.Catalog(billingUrl: $"mysql://{user}:Xa-pass-1@127.0.0.1:{servers.MyPort}/{_rig.MyDatabase}");
            await using (var tx = await next.BeginDistributedAsync("orders", "billing"))
            {
                Assert.EndsWith(".P2", tx.Id, StringComparison.Ordinal);
                await TwoPhaseRig.TransferAsync(tx, "billing", "orders", 2, async: true);
                await tx.CommitAsync();
            }

            Assert.Equal((110, 90, 100), await _rig.BalancesAsync(1));
        }
        finally
        {
            await using var admin = await _rig.Observer.GetEngine("billing").OpenConnectionAsync();
            await admin.ExecuteAsync($"DROP USER '{user}'@'%'");
        }
    }
}
