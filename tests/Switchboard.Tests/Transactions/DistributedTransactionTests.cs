using Dapper;
using Microsoft.Extensions.Configuration;
using Switchboard.Tests.Rig;
using Switchboard.Transactions;

namespace Switchboard.Tests.Transactions;

/// <summary>
/// Distributed transactions over a real PostgreSQL (orders), MariaDB (billing) and SQLite file (audit, the last resource).
/// Each [Theory] with a bool runs once synchronously and once asynchronously.
/// </summary>
[Collection(ServersCollection.Name)]
public sealed class DistributedTransactionTests(DatabaseServers servers) : IAsyncLifetime
{
    private TwoPhaseRig _rig = null!;

    public async Task InitializeAsync() => _rig = await TwoPhaseRig.CreateAsync(servers);

    public async Task DisposeAsync() => await _rig.DisposeAsync();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Commit_is_visible_on_every_participant(bool async)
    {
        var catalog = _rig.Catalog();
        var tx = async ? await catalog.BeginDistributedAsync("orders", "billing") : catalog.BeginDistributed("orders", "billing");
        Assert.StartsWith("sb1.tests.", tx.Id);
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 30, async);

        // Nothing is visible from outside before the commit.
        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(1));
        if (async)
        {
            await tx.CommitAsync();
        }
        else
        {
            tx.Commit();
        }

        Assert.Equal((70, 130, 100), await _rig.BalancesAsync(1));
        Assert.All(tx.Results!, r => Assert.Equal(ParticipantOutcome.Committed, r.Outcome));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
        Assert.False(tx.IsActive);
        await Assert.ThrowsAsync<InvalidOperationException>(() => tx.CommitAsync());
        await tx.DisposeAsync();

        // The connections went back to their pools.
        Assert.Equal(0, catalog.GetEngine("orders").GetPoolStatistics().InUse);
        Assert.Equal(0, catalog.GetEngine("billing").GetPoolStatistics().InUse);
    }

    [Fact]
    public async Task A_process_that_ends_right_after_its_commits_leaves_no_commit_record_behind()
    {
        // Each run: commit, then dispose at once. The records of finished transactions are swept at disposal, not left for
        // a background tick that disposal cancels (a record whose sibling was deleted would stay for good).
        for (var run = 0; run < 4; run++)
        {
            await using var catalog = _rig.Catalog();
            for (var i = 0; i < 3; i++)
            {
                await using var tx = await catalog.BeginDistributedAsync("orders", "billing");
                await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 1, async: true);
                await tx.CommitAsync();
            }
        }

        await using var pg = await _rig.Observer.GetEngine("orders").OpenConnectionAsync();
        Assert.Equal(0, await pg.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM switchboard_tx_decision"));
        await using var my = await _rig.Observer.GetEngine("billing").OpenConnectionAsync();
        Assert.Equal(0, await my.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM switchboard_tx_decision"));
    }

    [Fact]
    public async Task A_log_folder_whose_path_holds_connection_string_characters_works()
    {
        var folder = Path.Combine(_rig.Folder, "log;mode=ro'x");
        var catalog = _rig.Catalog(o => o.LogFolder = folder);
        await using (var tx = await catalog.BeginDistributedAsync("orders", "billing", "audit"))
        {
            await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 5, async: true);
            await tx.CommitAsync();
        }

        Assert.Equal((95, 105, 100), await _rig.BalancesAsync(1));
        Assert.True(File.Exists(Path.Combine(folder, TransactionCoordinatorOptions.LogFileName)));
    }

    [Fact]
    public async Task Decision_tables_key_transaction_ids_by_their_exact_bytes()
    {
        // The first distributed transaction creates the tables in both participants.
        await using (var tx = await _rig.Catalog().BeginDistributedAsync("orders", "billing"))
        {
            await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 1, async: true);
            await tx.CommitAsync();
        }

        // PostgreSQL: byte order, whatever the database's collation.
        await using (var pg = await _rig.Observer.GetEngine("orders").OpenConnectionAsync())
        {
            Assert.Equal("C", await pg.ExecuteScalarAsync<string>(
                "SELECT collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation WHERE a.attrelid = 'switchboard_tx_decision'::regclass AND a.attname = 'gtid'"));
        }

        // MySQL: ids that differ only in case are two keys (a case-insensitive default collation would call them duplicates).
        await using var my = await _rig.Observer.GetEngine("billing").OpenConnectionAsync();
        const string Insert = "INSERT INTO switchboard_tx_decision (gtid, outcome, participants, decided_ms) VALUES (@gtid, 'C', '', 0)";
        await my.ExecuteAsync(Insert, new { gtid = "case-test.Ab/0" });
        await my.ExecuteAsync(Insert, new { gtid = "case-test.aB/0" });
        Assert.Equal(1, await my.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM switchboard_tx_decision WHERE gtid = 'case-test.ab/0' OR gtid = 'case-test.Ab/0'"));
        await my.ExecuteAsync("DELETE FROM switchboard_tx_decision WHERE gtid LIKE 'case-test.%'");
    }

    [Fact]
    public async Task With_automatic_preparation_the_commit_record_insert_is_prepared_on_the_server()
    {
        // docs/transactions.md promises that Npgsql's Max Auto Prepare also prepares the commit record's insert: that holds
        // only while its text is the same for every transaction (the id travels as a parameter, never inside the SQL).
        var catalog = _rig.Catalog(ordersUrl: _rig.OrdersUrl + "?Max%20Auto%20Prepare=4&Auto%20Prepare%20Min%20Usages=2");
        var prepared = false;
        var transfers = 0;
        for (; transfers < 20 && !prepared; transfers++)
        {
            await using var tx = await catalog.BeginDistributedAsync("orders", "billing");
            await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 1, async: true);

            // Prepared statements belong to the server session: ask on the branch's own connection.
            prepared = await tx.Session("orders").Connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement = @insert",
                new { insert = "INSERT INTO switchboard_tx_decision (gtid, outcome, participants, decided_ms) VALUES ($1, 'C', '', $2)" }) > 0;
            await tx.CommitAsync();
        }

        Assert.True(prepared, "the commit record's insert was never prepared in 20 transactions with Max Auto Prepare = 4");
        Assert.Equal((100 - transfers, 100 + transfers, 100), await _rig.BalancesAsync(1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Rollback_and_dispose_discard_the_work_everywhere(bool async)
    {
        var catalog = _rig.Catalog();
        await using (var tx = await catalog.BeginDistributedAsync("orders", "billing", "audit"))
        {
            await TwoPhaseRig.TransferAsync(tx, "orders", "audit", 10, async);
            await tx.Session("billing").ExecuteAsync("UPDATE accounts SET balance = 0");
            if (async)
            {
                await tx.RollbackAsync();
            }
            else
            {
                tx.Rollback();
            }

            Assert.All(tx.Results!, r => Assert.Equal(ParticipantOutcome.RolledBack, r.Outcome));
        }

        var disposed = catalog.BeginDistributed("orders", "billing");
        await TwoPhaseRig.TransferAsync(disposed, "orders", "billing", 10, async);
        if (async)
        {
            await disposed.DisposeAsync();
        }
        else
        {
            disposed.Dispose();
        }

        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(1));
        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(2));
        Assert.Equal(0, catalog.GetEngine("billing").GetPoolStatistics().InUse);

        // The MariaDB connection went back to the pool with no XA branch left open on it.
        await using var again = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(again, "orders", "billing", 1, async);
        await again.CommitAsync();
        Assert.Equal((99, 101, 100), await _rig.BalancesAsync(1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_SQLite_last_resource_commits_with_the_others_and_its_decision_row_is_forgotten(bool async)
    {
        var catalog = _rig.Catalog();
        var tx = async ? await catalog.BeginDistributedAsync("orders", "billing", "audit") : catalog.BeginDistributed("orders", "billing", "audit");
        Assert.Contains(".L", tx.Id); // the decision is kept in audit
        await TwoPhaseRig.TransferAsync(tx, "orders", "audit", 25, async);
        await tx.Session("billing").ExecuteAsync("UPDATE accounts SET balance = balance + 1 WHERE id = 2");
        if (async)
        {
            await tx.CommitAsync();
        }
        else
        {
            tx.Commit();
        }

        Assert.Equal((75, 100, 125), await _rig.BalancesAsync(1));
        Assert.Equal(101, await _rig.BalanceAsync("billing", 2));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));

        // The decision row went into audit with its commit, and is deleted in the background once everyone has committed.
        Assert.True(await TwoPhaseRig.EventuallyAsync(async () =>
        {
            await using var connection = await _rig.Observer.GetEngine("audit").OpenConnectionAsync();
            return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM switchboard_tx_decision") == 0;
        }));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_participant_failing_to_prepare_rolls_every_participant_back(bool async)
    {
        await using (var setup = _rig.Observer.OpenSession("orders"))
        {
            // Checked at PREPARE TRANSACTION, not at the INSERT: the failure comes in phase one.
            await setup.ExecuteAsync("CREATE TABLE uniq (id INTEGER, CONSTRAINT u UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)");
            await setup.CommitAsync();
        }

        var catalog = _rig.Catalog();
        await using var tx = await catalog.BeginDistributedAsync("orders", "billing", "audit");
        await TwoPhaseRig.TransferAsync(tx, "billing", "audit", 40, async);
        await tx.Session("orders").ExecuteAsync("UPDATE accounts SET balance = 0");
        await tx.Session("orders").ExecuteAsync("INSERT INTO uniq VALUES (1), (1)");
        var error = async
            ? await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync())
            : Assert.Throws<DistributedTransactionException>(() => tx.Commit());

        Assert.Equal(DistributedOutcome.RolledBack, error.Outcome);
        Assert.Contains("'orders' could not prepare", error.Message);
        Assert.Contains("orders", error.Participants.Single(p => p.Error is not null).Database);
        Assert.All(error.Participants, p => Assert.Equal(ParticipantOutcome.RolledBack, p.Outcome));
        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(1));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
        Assert.DoesNotContain(servers.PgPassword, error.ToString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_participant_unreachable_during_commit_is_reported_in_doubt_and_then_committed_by_the_background_retry(bool async)
    {
        var (proxy, billingThroughProxy) = BillingThroughProxy();
        await using var proxyLifetime = proxy;
        var catalog = BillingGoesAwayAfterTheDecision(proxy, billingThroughProxy);

        var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 20, async);
        var error = async
            ? await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync())
            : Assert.Throws<DistributedTransactionException>(() => tx.Commit());

        Assert.Equal(DistributedOutcome.Committed, error.Outcome);
        Assert.Equal(ParticipantOutcome.Committed, error.Participants.Single(p => p.Database == "orders").Outcome);
        Assert.Equal(ParticipantOutcome.InDoubt, error.Participants.Single(p => p.Database == "billing").Outcome);
        Assert.Contains("billing: in doubt: prepared; will be committed", error.Message);
        Assert.DoesNotContain(servers.MyPassword, error.ToString());

        // orders has committed; billing holds a prepared branch that keeps its work invisible.
        Assert.Equal((80, 100, 100), await _rig.BalancesAsync(1));
        Assert.Single(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));

        // When billing comes back, the background retry commits it without anyone asking.
        proxy.Unblock();
        Assert.True(await TwoPhaseRig.EventuallyAsync(async () => await _rig.BalanceAsync("billing", 1) == 120));
        Assert.True(await TwoPhaseRig.EventuallyAsync(async () => (await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id))).Count == 0));
        Assert.Equal(0, catalog.Transactions.PendingRetries);
    }

    /// <summary>billing (MariaDB) through a proxy a test can cut: its URL.</summary>
    private (TcpProxy Proxy, string Url) BillingThroughProxy()
    {
        var proxy = new TcpProxy(servers.MyPort);
        return (proxy, $"mysql://app:{Uri.EscapeDataString(servers.MyPassword)}@127.0.0.1:{proxy.Port}/{_rig.MyDatabase}");
    }

    /// <summary>A catalog whose billing goes away right after the commit decision, before it hears "commit".</summary>
    private SwitchboardCatalog BillingGoesAwayAfterTheDecision(TcpProxy proxy, string billingUrl) =>
        _rig.Catalog(o => o.FaultHandler = (point, _) =>
        {
            if (point == FaultPoint.AfterDecision)
            {
                proxy.Block();
            }
        }, billingUrl: billingUrl);

    [Fact]
    public async Task A_participant_still_unreachable_at_shutdown_is_committed_by_recovery_after_a_restart()
    {
        var (proxy, billingThroughProxy) = BillingThroughProxy();
        await using var proxyLifetime = proxy;
        var catalog = BillingGoesAwayAfterTheDecision(proxy, billingThroughProxy);
        var tx = await catalog.BeginDistributedAsync("orders", "billing", "audit");
        await TwoPhaseRig.TransferAsync(tx, "audit", "billing", 5, async: true);
        await tx.Session("orders").ExecuteAsync("UPDATE accounts SET balance = balance + 1 WHERE id = 2");
        var error = await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync());
        Assert.Equal(ParticipantOutcome.InDoubt, error.Participants.Single(p => p.Database == "billing").Outcome);
        Assert.Equal(ParticipantOutcome.Committed, error.Participants.Single(p => p.Database == "audit").Outcome);
        await catalog.DisposeAsync();

        // The application restarts with billing reachable again: recovery reads the decision in audit and commits billing.
        proxy.Unblock();
        var restarted = _rig.Catalog(billingUrl: billingThroughProxy);
        var report = await restarted.RecoverTransactionsAsync();
        var action = Assert.Single(report.Actions, a => a.TransactionId == tx.Id);
        Assert.Equal(RecoveryActionKind.Committed, action.Action);
        Assert.Equal("billing", action.Database);
        Assert.True(report.IsComplete, string.Join("; ", report.Problems));
        Assert.Equal((100, 105, 95), await _rig.BalancesAsync(1));
        Assert.Equal(101, await _rig.BalanceAsync("orders", 2));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));

        // Idempotent: a second pass finds nothing of ours.
        var again = await restarted.RecoverTransactionsAsync();
        Assert.DoesNotContain(again.Actions, a => a.TransactionId == tx.Id);
    }

    [Fact]
    public async Task Recovery_keeps_a_commit_record_while_a_database_that_may_hold_another_branch_cannot_be_read()
    {
        // The decision in the participants (the default): orders commits, billing goes away before it hears "commit".
        var (proxy, billingThroughProxy) = BillingThroughProxy();
        await using var proxyLifetime = proxy;
        var catalog = BillingGoesAwayAfterTheDecision(proxy, billingThroughProxy);
        var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 20, async: true);
        var error = await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync());
        Assert.Equal(DistributedOutcome.Committed, error.Outcome);
        await catalog.DisposeAsync();

        // A restart while billing is still away: its branch cannot be listed, so orders' commit record — the only proof
        // that the transaction committed — must stay.
        var restarted = _rig.Catalog(billingUrl: billingThroughProxy);
        var blind = await restarted.RecoverTransactionsAsync();
        Assert.Contains(blind.Problems, p => p.Database == "billing");
        Assert.Contains("could not be read (billing); something is left", blind.ToString());
        Assert.Equal(0, blind.ForgottenDecisions);
        Assert.Equal(1, (await _rig.CommitRecordsAsync()).Orders);

        // Billing is back: recovery finds its branch prepared and orders' record, and commits it.
        proxy.Unblock();
        var report = await restarted.RecoverTransactionsAsync();
        var action = Assert.Single(report.Actions, a => a.TransactionId == tx.Id);
        Assert.Equal(RecoveryActionKind.Committed, action.Action);
        Assert.Equal((80, 120, 100), await _rig.BalancesAsync(1));

        // Only now, with both branches' records seen committed, are the records forgotten.
        var again = await restarted.RecoverTransactionsAsync();
        Assert.Equal(2, again.ForgottenDecisions);
        Assert.Equal((0, 0), await _rig.CommitRecordsAsync());
    }

    [Theory]
    // The decision in the coordinator log: committed once the log holds it.
    [InlineData(false, nameof(FaultPoint.AfterPrepare), false)]
    [InlineData(false, nameof(FaultPoint.BeforeDecision), false)]
    [InlineData(false, nameof(FaultPoint.AfterDecision), true)]
    [InlineData(false, nameof(FaultPoint.AfterCommit), true)]
    // The decision in the participants (the default): committed once every branch is prepared.
    [InlineData(true, nameof(FaultPoint.AfterPrepare), true)]
    [InlineData(true, nameof(FaultPoint.BeforeDecision), true)]
    [InlineData(true, nameof(FaultPoint.AfterDecision), true)]
    [InlineData(true, nameof(FaultPoint.AfterCommit), true)]
    public async Task After_a_crash_recovery_completes_the_transaction_all_or_nothing(bool decisionsInParticipants, string pointName, bool committed)
    {
        var point = Enum.Parse<FaultPoint>(pointName);
        var catalog = _rig.Catalog(o =>
        {
            o.DecisionsInParticipants = decisionsInParticipants;
            o.FaultHandler = (p, _) =>
            {
                // Prepares run in parallel and are awaited together, so both branches are prepared whichever one dies here.
                if (p == point)
                {
                    throw new SimulatedCrashException(pointName);
                }
            };
        });
        var tx = await catalog.BeginDistributedAsync("orders", "billing");
        Assert.Equal(decisionsInParticipants, tx.Id.EndsWith(".P2", StringComparison.Ordinal));
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 50, async: true);
        await Assert.ThrowsAsync<SimulatedCrashException>(() => tx.CommitAsync());
        await tx.DisposeAsync();
        await catalog.DisposeAsync();

        var restarted = _rig.Catalog();
        var report = await restarted.RecoverTransactionsAsync();
        Assert.True(report.IsComplete, string.Join("; ", report.Problems));
        var ours = report.Actions.Where(a => a.TransactionId == tx.Id).ToList();
        if (point != FaultPoint.AfterCommit)
        {
            Assert.NotEmpty(ours); // after a commit, the other participant may have committed in parallel before the crash
        }

        Assert.All(ours, a => Assert.Equal(committed ? RecoveryActionKind.Committed : RecoveryActionKind.RolledBack, a.Action));
        Assert.Equal(committed ? (50L, 150L, 100L) : (100L, 100L, 100L), await _rig.BalancesAsync(1));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
    }

    [Fact]
    public async Task Recovery_decides_a_transaction_kept_in_its_participants_from_what_they_hold()
    {
        // This log's id, from a real transaction (which also creates both decision tables).
        var catalog = _rig.Catalog();
        string realId;
        await using (var tx = await catalog.BeginDistributedAsync("orders", "billing"))
        {
            await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 1, async: true);
            await tx.CommitAsync();
            realId = tx.Id;
        }

        Assert.True(GlobalTransactionId.TryParse(realId, out var real) && real.Branches == 2, realId);
        string Gtid(string sequence) => new GlobalTransactionId(real.Coordinator, real.LogId, "dead00", sequence, null, 2).ToString();
        foreach (var database in new[] { "orders", "billing" })
        {
            await using var setup = _rig.Observer.OpenSession(database);
            await setup.ExecuteAsync("INSERT INTO accounts (id, balance) VALUES (@id, 100)", new[] { 20, 21, 22 }.Select(id => new { id }));
            await setup.CommitAsync();
        }

        // What a crash of a process that has ended ("dead00" holds no lock) can leave, each on accounts of its own:
        //   A: only the orders branch prepared;  B: billing committed, orders prepared;  C: both prepared.
        var (a, b, c) = (Gtid("a1"), Gtid("b1"), Gtid("c1"));
        const string Record = "INSERT INTO switchboard_tx_decision (gtid, outcome, participants, decided_ms) VALUES (@key, 'C', '[]', 0)";
        await using (var pg = await _rig.Observer.GetEngine("orders").OpenConnectionAsync())
        {
            foreach (var (gtid, account, delta) in new[] { (a, 20, -10), (b, 21, -20), (c, 22, -5) })
            {
                await pg.ExecuteAsync("BEGIN; UPDATE accounts SET balance = balance + @delta WHERE id = @account", new { delta, account });
                await pg.ExecuteAsync(Record, new { key = gtid + "/0" });
                await pg.ExecuteAsync($"PREPARE TRANSACTION '{gtid}/0'");
            }
        }

        // Unpooled, so that closing ends the session and detaches the prepared branch.
        await using (var my = new global::MySql.Data.MySqlClient.MySqlConnection(servers.MyAdminConnectionString(_rig.MyDatabase)))
        {
            await my.OpenAsync();
            await my.ExecuteAsync("UPDATE accounts SET balance = balance + 20 WHERE id = 21; " + Record, new { key = b + "/1" }); // autocommit
            await my.ExecuteAsync($"XA START '{c}','1'; UPDATE accounts SET balance = balance + 5 WHERE id = 22; "
                + Record.Replace("@key", $"'{c}/1'", StringComparison.Ordinal) + $"; XA END '{c}','1'; XA PREPARE '{c}','1'");
        }

        var report = await _rig.Catalog().RecoverTransactionsAsync();
        Assert.True(report.IsComplete, string.Join("; ", report.Problems));
        var rolledBack = Assert.Single(report.Actions, x => x.TransactionId == a);
        Assert.Equal(RecoveryActionKind.RolledBack, rolledBack.Action);
        Assert.Contains("only 1 of its 2 participants", rolledBack.Detail);
        var completed = Assert.Single(report.Actions, x => x.TransactionId == b);
        Assert.Equal(RecoveryActionKind.Committed, completed.Action);
        Assert.Contains("'billing' has committed", completed.Detail);
        Assert.Equal(2, report.Actions.Count(x => x.TransactionId == c && x.Action == RecoveryActionKind.Committed));

        Assert.Equal((100L, 100L), (await _rig.BalanceAsync("orders", 20), await _rig.BalanceAsync("billing", 20)));
        Assert.Equal((80L, 120L), (await _rig.BalanceAsync("orders", 21), await _rig.BalanceAsync("billing", 21)));
        Assert.Equal((95L, 105L), (await _rig.BalanceAsync("orders", 22), await _rig.BalanceAsync("billing", 22)));
        Assert.Empty(await _rig.PreparedAsync(".dead00."));

        // The next pass finds them complete everywhere and forgets their four commit records (A's went with its rollback).
        var again = await _rig.Catalog().RecoverTransactionsAsync();
        Assert.DoesNotContain(again.Actions, x => x.TransactionId is var id && (id == a || id == b || id == c));
        Assert.Equal(4, again.ForgottenDecisions);
    }

    [Fact]
    public async Task Recovery_at_start_up_completes_what_a_crash_left_prepared()
    {
        var catalog = _rig.Catalog(o => o.FaultHandler = (p, _) =>
        {
            if (p == FaultPoint.AfterDecision)
            {
                throw new SimulatedCrashException("after decision");
            }
        });
        var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 7, async: true);
        await Assert.ThrowsAsync<SimulatedCrashException>(() => tx.CommitAsync());
        await tx.DisposeAsync();
        await catalog.DisposeAsync();
        Assert.Equal(2, (await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id))).Count);

        // Nobody calls recovery: building the catalog starts it.
        _rig.Catalog(o => o.RecoverOnStart = true);
        Assert.True(await TwoPhaseRig.EventuallyAsync(async () => (await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id))).Count == 0));
        Assert.Equal((93, 107, 100), await _rig.BalancesAsync(1));
    }

    [Fact]
    public async Task Recovery_never_touches_a_foreign_prepared_transaction()
    {
        // A crashed transaction of ours, and three foreign prepared ones: by hand, and another coordinator's (other log id).
        var catalog = _rig.Catalog(o => o.FaultHandler = (p, _) =>
        {
            if (p == FaultPoint.BeforeDecision)
            {
                throw new SimulatedCrashException("before decision");
            }
        });
        var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 1, async: true);
        await Assert.ThrowsAsync<SimulatedCrashException>(() => tx.CommitAsync());
        await tx.DisposeAsync();
        await catalog.DisposeAsync();

        var foreignPg = "foreign-" + Guid.NewGuid().ToString("N")[..8];
        var otherCoordinator = "sb1.tests.0123456789ab.zz." + Guid.NewGuid().ToString("N")[..6];
        var foreignXa = "foreign-" + Guid.NewGuid().ToString("N")[..8];
        await using (var pg = await _rig.Observer.GetEngine("orders").OpenConnectionAsync())
        {
            var row = 1000;
            foreach (var gid in new[] { foreignPg, otherCoordinator + "/0" })
            {
                await pg.ExecuteAsync($"BEGIN; INSERT INTO accounts VALUES ({row++}, 0); PREPARE TRANSACTION '{gid}'");
            }
        }

        // Unpooled, so that closing ends the session (MySql.Data would try a ROLLBACK first on a pooled one).
        await using (var my = new global::MySql.Data.MySqlClient.MySqlConnection(servers.MyAdminConnectionString(_rig.MyDatabase)))
        {
            await my.OpenAsync();
            await my.ExecuteAsync($"XA START '{foreignXa}'; INSERT INTO accounts VALUES (1000, 0); XA END '{foreignXa}'; XA PREPARE '{foreignXa}'");
        }

        try
        {
            // Both branches were prepared, and each holds the commit record: committed.
            var report = await _rig.Catalog().RecoverTransactionsAsync();
            Assert.All(report.Actions.Where(a => a.TransactionId == tx.Id), a => Assert.Equal(RecoveryActionKind.Committed, a.Action));
            Assert.Equal(2, report.Actions.Count(a => a.TransactionId == tx.Id));
            foreach (var foreign in new[] { foreignPg, otherCoordinator, foreignXa })
            {
                Assert.Equal(RecoveryActionKind.Foreign, Assert.Single(report.Actions, a => a.TransactionId == foreign).Action);
            }

            Assert.Contains("another Switchboard coordinator's (log 0123456789ab", report.Actions.Single(a => a.TransactionId == otherCoordinator).Detail);
            Assert.Single(await _rig.PreparedAsync(foreignPg));
            Assert.Single(await _rig.PreparedAsync(otherCoordinator));
            Assert.Single(await _rig.PreparedAsync(foreignXa));
            Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
        }
        finally
        {
            await using var pg = await _rig.Observer.GetEngine("orders").OpenConnectionAsync();
            await pg.ExecuteAsync($"ROLLBACK PREPARED '{foreignPg}'");
            await pg.ExecuteAsync($"ROLLBACK PREPARED '{otherCoordinator}/0'");
            await using var my = await _rig.Observer.GetEngine("billing").OpenConnectionAsync();
            await my.ExecuteAsync($"XA ROLLBACK '{foreignXa}'");
        }
    }

    [Fact]
    public async Task Recovery_leaves_alone_a_transaction_another_running_process_is_still_deciding()
    {
        using var gate = new SemaphoreSlim(0);
        using var reached = new SemaphoreSlim(0);
        var running = _rig.Catalog(o => o.FaultHandler = (p, _) =>
        {
            if (p == FaultPoint.BeforeDecision)
            {
                reached.Release();
                gate.Wait(TimeSpan.FromSeconds(30));
            }
        });
        var tx = await running.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 3, async: true);
        var commit = Task.Run(() => tx.CommitAsync());
        Assert.True(await reached.WaitAsync(TimeSpan.FromSeconds(30)));

        // Another "process" (a second catalog on the same log) runs recovery while both branches are prepared and undecided.
        var report = await _rig.Catalog().RecoverTransactionsAsync();
        var ours = report.Actions.Where(a => a.TransactionId == tx.Id).ToList();
        Assert.Equal(2, ours.Count);
        Assert.All(ours, a => Assert.Equal(RecoveryActionKind.LeftInProgress, a.Action));
        Assert.False(report.IsComplete);

        gate.Release();
        await commit;
        Assert.Equal((97, 103, 100), await _rig.BalancesAsync(1));
    }

    [Fact]
    public async Task A_recorded_abort_wins_over_the_coordinators_later_commit()
    {
        DistributedTransaction? tx = null;
        SwitchboardCatalog? catalog = null;
        catalog = _rig.Catalog(o =>
        {
            o.DecisionsInParticipants = false; // the race exists where the decision is a log write
            o.FaultHandler = (p, _) =>
            {
                if (p == FaultPoint.BeforeDecision)
                {
                    // Recovery got there first: it recorded the presumed abort of these prepared branches.
                    var log = catalog!.Transactions.GetWritableLogAsync(Internal.IOBehavior.Synchronous, default).AsTask().GetAwaiter().GetResult();
                    Assert.Equal('A', log.RecordAsync(tx!.Id, 'A', "[]", Internal.IOBehavior.Synchronous).AsTask().GetAwaiter().GetResult());
                }
            };
        });
        tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 60, async: true);
        var error = await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync());
        Assert.Equal(DistributedOutcome.RolledBack, error.Outcome);
        Assert.Contains("rolled it back first", error.Message);
        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(1));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Concurrent_transfers_keep_the_money_total_and_share_log_flushes(bool decisionsInParticipants)
    {
        // Sixteen clients, each on accounts of its own: no client waits for another's locks, so decisions arrive together.
        foreach (var database in new[] { "orders", "billing" })
        {
            await using var setup = _rig.Observer.OpenSession(database);
            await setup.ExecuteAsync("INSERT INTO accounts (id, balance) VALUES (@id, 100)", Enumerable.Range(3, 14).Select(id => new { id }));
            await setup.CommitAsync();
        }

        var catalog = _rig.Catalog(o => o.DecisionsInParticipants = decisionsInParticipants);
        var names = new[] { "orders", "billing" };
        var flushesBefore = (await catalog.Transactions.GetWritableLogAsync(Internal.IOBehavior.Asynchronous, default)).Flushes;
        await Task.WhenAll(Enumerable.Range(1, 16).Select(async account =>
        {
            for (var i = 0; i < 8; i++)
            {
                var from = names[(account + i) % 2];
                var to = names[(account + i + 1) % 2];
                await using var tx = await catalog.BeginDistributedAsync(from, to);
                await tx.Session(from).ExecuteAsync("UPDATE accounts SET balance = balance - @i WHERE id = @account", new { i, account });
                await tx.Session(to).ExecuteAsync("UPDATE accounts SET balance = balance + @i WHERE id = @account", new { i, account });
                await tx.CommitAsync();
            }
        }));

        var log = await catalog.Transactions.GetWritableLogAsync(Internal.IOBehavior.Asynchronous, default);
        await using (var orders = await _rig.Observer.GetEngine("orders").OpenConnectionAsync())
        await using (var billing = await _rig.Observer.GetEngine("billing").OpenConnectionAsync())
        {
            Assert.Equal(3200, await orders.ExecuteScalarAsync<long>("SELECT SUM(balance) FROM accounts")
                + await billing.ExecuteScalarAsync<long>("SELECT SUM(balance) FROM accounts"));
        }

        if (!decisionsInParticipants)
        {
            Assert.True(log.Decisions >= 128, $"{log.Decisions} decisions");
            Assert.True(log.Flushes - flushesBefore < log.Decisions, $"{log.Flushes - flushesBefore} flushes for {log.Decisions} decisions: no group commit");
            return;
        }

        // No durable write of the coordinator's own: each decision went into the branches, and their commit records are
        // forgotten in bulk once every branch has committed.
        Assert.Equal(0, log.Decisions);
        Assert.True(await TwoPhaseRig.EventuallyAsync(async () => await _rig.CommitRecordsAsync() == (0, 0)), "commit records left behind");
    }

    [Fact]
    public async Task Best_effort_commits_in_order_and_says_which_committed_when_one_fails()
    {
        var second = "sqlite:///" + Path.Combine(_rig.Folder, "second.db");
        var catalog = _rig.Catalog(more: b => b.AddDatabase("second", second));
        await using (var setup = catalog.OpenSession("second"))
        {
            await setup.ExecuteAsync("CREATE TABLE parent (id INTEGER PRIMARY KEY)");
            await setup.ExecuteAsync("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)");
            await setup.CommitAsync();
        }

        // Two databases that cannot prepare: refused in two-phase mode, before any work.
        var refused = await Assert.ThrowsAsync<TwoPhaseCommitUnavailableException>(() => catalog.BeginDistributedAsync("audit", "second"));
        Assert.Contains("'audit'", refused.Message);
        Assert.Contains("'second'", refused.Message);
        Assert.Equal(["audit", "second"], refused.Problems.Select(p => p.Key).Order());

        // The advice is the same for both databases: said once, after the list.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(refused.Message, "At most one database that cannot prepare"));

        await using var tx = await catalog.BeginDistributedAsync(["orders", "audit", "second"], DistributedTransactionOptions.BestEffort);
        Assert.Equal(0, catalog.Transactions.PendingRetries);
        await TwoPhaseRig.TransferAsync(tx, "orders", "audit", 10, async: true);
        await tx.Session("second").ExecuteAsync("INSERT INTO child VALUES (42)"); // fails only at COMMIT
        var error = await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync());
        Assert.Equal(DistributedOutcome.Partial, error.Outcome);
        Assert.Equal([ParticipantOutcome.Committed, ParticipantOutcome.Committed, ParticipantOutcome.RolledBack], error.Participants.Select(p => p.Outcome));
        Assert.Contains("second", error.Message);
        Assert.Equal((90, 100, 110), await _rig.BalancesAsync(1));
    }

    [Fact]
    public async Task Transactions_naming_their_databases_in_opposite_orders_do_not_hold_each_other_s_last_pool_slot()
    {
        // Pools of one: a transaction holding one pool's only connection while waiting for the other's would wait for
        // one holding the other way round until the checkout timeout.
        var catalog = _rig.Track(SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", _rig.OrdersUrl, o => { o.Pool.MaxSize = 1; o.Pool.CheckoutTimeout = TimeSpan.FromSeconds(5); })
            .AddDatabase("billing", _rig.BillingUrl, o => { o.Pool.MaxSize = 1; o.Pool.CheckoutTimeout = TimeSpan.FromSeconds(5); })
            .ConfigureTransactions(o =>
            {
                o.LogFolder = _rig.LogFolder;
                o.CoordinatorName = "tests";
                o.RecoverOnStart = false;
            })
            .Build());

        var started = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(new[] { new[] { "orders", "billing" }, ["billing", "orders"] }.Select(order => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                await using var tx = await catalog.BeginDistributedAsync(order);
                await tx.Session(order[0]).ExecuteAsync("UPDATE accounts SET balance = balance WHERE id = 1");
                await tx.RollbackAsync();
            }
        })));

        Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Assert.Equal(0, catalog.GetEngine("orders").GetPoolStatistics().InUse);
        Assert.Equal(0, catalog.GetEngine("billing").GetPoolStatistics().InUse);
    }

    [Fact]
    public async Task Sessions_of_a_distributed_transaction_refuse_their_own_commit_and_end_with_it()
    {
        var catalog = _rig.Catalog();
        var tx = await catalog.BeginDistributedAsync("orders", "billing");
        var orders = tx.Session("ORDERS");
        Assert.True(orders.IsActive);
        var commit = await Assert.ThrowsAsync<InvalidOperationException>(() => orders.CommitAsync());
        Assert.Contains(tx.Id, commit.Message);
        Assert.Throws<InvalidOperationException>(() => orders.Rollback());
        var unknown = Assert.Throws<ArgumentException>(() => tx.Session("audit"));
        Assert.Contains("orders, billing", unknown.Message);

        // The PostgreSQL branch is an ordinary ADO.NET transaction; the MariaDB one is an XA branch without one.
        await orders.Connection.ExecuteAsync("UPDATE accounts SET balance = 1 WHERE id = 2", transaction: orders.Transaction);
        var xa = Assert.Throws<InvalidOperationException>(() => tx.Session("billing").Transaction);
        Assert.Contains("XA branch", xa.Message);
        await tx.Session("billing").Connection.ExecuteAsync("UPDATE accounts SET balance = 2 WHERE id = 2");
        await orders.DisposeAsync(); // does nothing: the transaction owns it
        await tx.CommitAsync();
        Assert.Equal(1, await _rig.BalanceAsync("orders", 2));
        Assert.Equal(2, await _rig.BalanceAsync("billing", 2));

        var ended = await Assert.ThrowsAsync<InvalidOperationException>(() => orders.ExecuteAsync("SELECT 1"));
        Assert.Contains("has ended", ended.Message);
        Assert.Throws<InvalidOperationException>(() => tx.Session("orders"));
    }

    [Fact]
    public async Task A_database_configured_TwoPhaseCommit_false_joins_as_the_last_resource()
    {
        var catalog = _rig.Catalog(more: b => b.AddDatabase("ledger", _rig.OrdersUrl, o => o.TwoPhaseCommit = false));
        Assert.False(catalog.GetDefinition("ledger").CanPrepare);
        await using var tx = await catalog.BeginDistributedAsync("ledger", "billing");
        await TwoPhaseRig.TransferAsync(tx, "ledger", "billing", 9, async: true);
        await tx.CommitAsync();
        Assert.Equal((91, 109, 100), await _rig.BalancesAsync(1));

        // Its decision table lives in that PostgreSQL database; the SQLite audit database was never involved.
        await using var connection = await _rig.Observer.GetEngine("orders").OpenConnectionAsync();
        Assert.True(await connection.ExecuteScalarAsync<bool>("SELECT to_regclass('switchboard_tx_decision') IS NOT NULL"));
    }

    /// <summary>A deferred trigger on orders' accounts: a transaction that updated them takes 2 s more to COMMIT or PREPARE.</summary>
    private async Task SlowDownTheEndOfOrdersTransactionsAsync()
    {
        await using var setup = _rig.Observer.OpenSession("orders");
        await setup.ExecuteAsync("""
            CREATE FUNCTION slow_end() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$;
            CREATE CONSTRAINT TRIGGER slow_end AFTER UPDATE ON accounts DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_end();
            """);
        await setup.CommitAsync();
    }

    [Fact]
    public async Task A_last_resource_commit_whose_reply_is_lost_is_found_committed_and_the_others_commit_too()
    {
        // The ledger's COMMIT takes 2 s (a deferred trigger), and its connection is cut 0.7 s into it. The server finishes
        // the commit anyway; the coordinator must wait for that outcome, not read "no decision" and roll the others back.
        await SlowDownTheEndOfOrdersTransactionsAsync();

        await using var proxy = new TcpProxy(servers.PgPort);
        var ledgerThroughProxy = $"postgresql://app:{Uri.EscapeDataString(servers.PgPassword)}@127.0.0.1:{proxy.Port}/{_rig.PgDatabase}";
        var catalog = _rig.Catalog(
            o => o.FaultHandler = (point, _) =>
            {
                if (point == FaultPoint.BeforeDecision)
                {
                    ThreadPool.QueueUserWorkItem(_ => { Thread.Sleep(700); proxy.Reset(); });
                }
            },
            more: b => b.AddDatabase("ledger", ledgerThroughProxy, o => o.TwoPhaseCommit = false));
        await using var tx = await catalog.BeginDistributedAsync("ledger", "billing");
        await TwoPhaseRig.TransferAsync(tx, "ledger", "billing", 9, async: true);
        await tx.CommitAsync();
        Assert.All(tx.Results!, r => Assert.Equal(ParticipantOutcome.Committed, r.Outcome));
        Assert.Equal((91, 109, 100), await _rig.BalancesAsync(1));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
    }

    [Fact]
    public async Task A_log_write_whose_reply_is_lost_is_found_committed_and_every_participant_commits()
    {
        var coordination = await servers.CreatePgDatabaseAsync("coord");
        await using var proxy = new TcpProxy(servers.PgPort);
        var resetDuringDecision = false;
        var catalog = _rig.Catalog(o =>
        {
            o.LogFolder = null;
            o.LogDatabase = "coordination";
            o.DecisionsInParticipants = false;
            o.FaultHandler = (point, _) =>
            {
                if (point == FaultPoint.BeforeDecision && resetDuringDecision)
                {
                    ThreadPool.QueueUserWorkItem(_ => { Thread.Sleep(700); proxy.Reset(); });
                }
            };
        }, more: b => b.AddDatabase("coordination", $"postgresql://app:{Uri.EscapeDataString(servers.PgPassword)}@127.0.0.1:{proxy.Port}/{coordination}"));

        // A first transaction creates the log's tables; then the log's commit of a decision takes 2 s (a deferred trigger).
        await using (var first = await catalog.BeginDistributedAsync("orders", "billing"))
        {
            await TwoPhaseRig.TransferAsync(first, "orders", "billing", 1, async: true);
            await first.CommitAsync();
        }

        await using (var connection = await _rig.Track(SwitchboardCatalog.CreateBuilder().AddDatabase("c", servers.PgUrl(coordination)).Build())
            .GetEngine("c").OpenConnectionAsync())
        {
            await connection.ExecuteAsync("""
                CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$;
                CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON switchboard_tx_decision DEFERRABLE INITIALLY DEFERRED
                    FOR EACH ROW WHEN (NEW.outcome = 'C') EXECUTE FUNCTION slow_commit();
                """);
        }

        // The log's connection is cut 0.7 s into that commit, which the server completes anyway: the coordinator must find
        // the commit decision recorded, not abort a transaction that recovery would later commit.
        resetDuringDecision = true;
        await using var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 10, async: true);
        await tx.CommitAsync();
        Assert.All(tx.Results!, r => Assert.Equal(ParticipantOutcome.Committed, r.Outcome));
        Assert.Equal((89, 111, 100), await _rig.BalancesAsync(1));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
    }

    [Fact]
    public async Task A_prepare_whose_connection_is_lost_is_ended_before_its_branch_is_taken_for_rolled_back()
    {
        // orders' PREPARE takes 2 s (a deferred trigger), and its connection is cut 0.7 s into it. Its old session must be
        // ended before "no such prepared branch" may count as rolled back, or it would finish preparing afterwards.
        await SlowDownTheEndOfOrdersTransactionsAsync();

        await using var proxy = new TcpProxy(servers.PgPort);
        var ordersThroughProxy = $"postgresql://app:{Uri.EscapeDataString(servers.PgPassword)}@127.0.0.1:{proxy.Port}/{_rig.PgDatabase}";
        var catalog = _rig.Catalog(ordersUrl: ordersThroughProxy);
        var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 20, async: true);
        ThreadPool.QueueUserWorkItem(_ => { Thread.Sleep(700); proxy.Reset(); });
        var error = await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync());

        Assert.Equal(DistributedOutcome.RolledBack, error.Outcome);
        Assert.All(error.Participants, p => Assert.Equal(ParticipantOutcome.RolledBack, p.Outcome));
        await Task.Delay(2500); // past the moment the old session would have finished preparing
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(1));
    }

    [Fact]
    public async Task A_lost_XA_PREPARE_on_MariaDB_is_ended_before_its_branch_is_taken_for_rolled_back()
    {
        // billing's commit record insert takes 2 s (a trigger), in the statement that also ends and prepares the XA branch;
        // the connection is cut 0.7 s into it. The session must be killed before "unknown XID" may count as rolled back.
        var catalog = _rig.Catalog();
        await using (var first = await catalog.BeginDistributedAsync("orders", "billing")) // creates the decision tables
        {
            await TwoPhaseRig.TransferAsync(first, "orders", "billing", 1, async: true);
            await first.CommitAsync();
        }

        await using (var my = new global::MySql.Data.MySqlClient.MySqlConnection(servers.MyAdminConnectionString(_rig.MyDatabase)))
        {
            await my.OpenAsync();
            await my.ExecuteAsync("CREATE TRIGGER slow_record BEFORE INSERT ON switchboard_tx_decision FOR EACH ROW SET NEW.decided_ms = NEW.decided_ms + SLEEP(2)");
        }

        await using var proxy = new TcpProxy(servers.MyPort);
        var billingThroughProxy = $"mysql://app:{Uri.EscapeDataString(servers.MyPassword)}@127.0.0.1:{proxy.Port}/{_rig.MyDatabase}";
        var proxied = _rig.Catalog(billingUrl: billingThroughProxy);
        var tx = await proxied.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 20, async: true);
        ThreadPool.QueueUserWorkItem(_ => { Thread.Sleep(700); proxy.Reset(); });
        var error = await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync());

        Assert.Equal(DistributedOutcome.RolledBack, error.Outcome);
        await Task.Delay(2500); // past the moment the old session would have finished preparing
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
        Assert.Equal((99, 101, 100), await _rig.BalancesAsync(1));
    }

    [Fact]
    public async Task A_prepared_branch_someone_else_rolled_back_is_reported_as_a_partial_commit_not_as_committed()
    {
        // Every branch is prepared (committed, by the rule), then something outside the protocol rolls orders' branch back
        // — as another process's recovery would if it took this one for ended. The caller must hear exactly that.
        SwitchboardCatalog? observer = _rig.Observer;
        var catalog = _rig.Catalog(o => o.FaultHandler = (point, _) =>
        {
            if (point == FaultPoint.BeforeDecision)
            {
                using var connection = observer.GetEngine("orders").OpenConnection();
                var gid = connection.ExecuteScalar<string>("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()");
                connection.Execute($"ROLLBACK PREPARED '{gid}'");
            }
        });
        var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 20, async: true);
        var error = await Assert.ThrowsAsync<DistributedTransactionException>(() => tx.CommitAsync());

        Assert.Equal(DistributedOutcome.Partial, error.Outcome);
        Assert.Equal(ParticipantOutcome.RolledBack, error.Participants.Single(p => p.Database == "orders").Outcome);
        Assert.Equal(ParticipantOutcome.Committed, error.Participants.Single(p => p.Database == "billing").Outcome);
        Assert.Contains("rolled back by someone else", error.Message);
        Assert.Equal((100, 120, 100), await _rig.BalancesAsync(1));
    }

    [Fact]
    public async Task A_process_taken_for_ended_registers_again_and_refuses_to_prepare_until_its_heartbeat_lands()
    {
        var coordination = await servers.CreatePgDatabaseAsync("coord");
        var catalog = _rig.Catalog(o =>
        {
            o.LogFolder = null;
            o.LogDatabase = "coordination";
        }, more: b => b.AddDatabase("coordination", servers.PgUrl(coordination)));
        await using (var first = await catalog.BeginDistributedAsync("orders", "billing"))
        {
            await TwoPhaseRig.TransferAsync(first, "orders", "billing", 1, async: true);
            await first.CommitAsync();
        }

        // Another process's recovery deleted this one's row, taking it for ended.
        await using var log = await _rig.Track(SwitchboardCatalog.CreateBuilder().AddDatabase("c", servers.PgUrl(coordination)).Build())
            .GetEngine("c").OpenConnectionAsync();
        Assert.Equal(1, await log.ExecuteAsync("DELETE FROM switchboard_tx_incarnation"));

        // The next heartbeat finds its row gone and writes it again; until the one after lands, nothing is prepared.
        Assert.True(await TwoPhaseRig.EventuallyAsync(async () => await log.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM switchboard_tx_incarnation") == 1));
        await using (var refused = await catalog.BeginDistributedAsync("orders", "billing"))
        {
            await TwoPhaseRig.TransferAsync(refused, "orders", "billing", 10, async: true);
            var error = await Assert.ThrowsAsync<DistributedTransactionException>(() => refused.CommitAsync());
            Assert.Equal(DistributedOutcome.RolledBack, error.Outcome);
            Assert.Contains("has not renewed its registration", error.Message);
        }

        Assert.Equal((99, 101, 100), await _rig.BalancesAsync(1));
        Assert.True(await TwoPhaseRig.EventuallyAsync(async () =>
        {
            await using var retry = await catalog.BeginDistributedAsync("orders", "billing");
            await TwoPhaseRig.TransferAsync(retry, "orders", "billing", 10, async: true);
            try
            {
                await retry.CommitAsync();
                return true;
            }
            catch (DistributedTransactionException e) when (e.Outcome == DistributedOutcome.RolledBack)
            {
                return false;
            }
        }));
        Assert.Equal((89, 111, 100), await _rig.BalancesAsync(1));
    }

    [Fact]
    public async Task The_log_can_live_in_a_named_database_and_recovery_reads_it_there()
    {
        var coordination = await servers.CreatePgDatabaseAsync("coord");
        void UseDatabaseLog(TransactionCoordinatorOptions o)
        {
            o.LogFolder = null;
            o.LogDatabase = "coordination";
            o.DecisionsInParticipants = false; // so that the decision is in that log
        }

        var catalog = _rig.Catalog(o =>
        {
            UseDatabaseLog(o);
            o.FaultHandler = (p, _) =>
            {
                if (p == FaultPoint.AfterDecision)
                {
                    throw new SimulatedCrashException("after decision");
                }
            };
        }, more: b => b.AddDatabase("coordination", servers.PgUrl(coordination)));
        var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "billing", "orders", 11, async: true);
        await Assert.ThrowsAsync<SimulatedCrashException>(() => tx.CommitAsync());
        await tx.DisposeAsync();

        // The crashed process's heartbeat is fresh, so recovery elsewhere waits for it to go stale; a restart of the
        // same process (after the heartbeat timeout) is simulated by deleting its incarnation row.
        await using (var connection = await _rig.Track(SwitchboardCatalog.CreateBuilder().AddDatabase("c", servers.PgUrl(coordination)).Build())
            .GetEngine("c").OpenConnectionAsync())
        {
            Assert.Equal(1, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM switchboard_tx_decision WHERE outcome = 'C'"));
            await connection.ExecuteAsync("UPDATE switchboard_tx_incarnation SET heartbeat_ms = 0");
        }

        await catalog.DisposeAsync();
        Assert.False(File.Exists(Path.Combine(_rig.LogFolder, TransactionCoordinatorOptions.LogFileName)));
        var report = await _rig.Catalog(UseDatabaseLog, more: b => b.AddDatabase("coordination", servers.PgUrl(coordination))).RecoverTransactionsAsync();
        Assert.Equal(2, report.Actions.Count(a => a.TransactionId == tx.Id && a.Action == RecoveryActionKind.Committed));
        Assert.Equal(1, report.ForgottenDecisions);
        Assert.Equal((111, 89, 100), await _rig.BalancesAsync(1));
    }

    [Fact]
    public async Task Completing_in_the_background_returns_once_the_decision_is_durable_and_then_applies_it_everywhere()
    {
        var catalog = _rig.Catalog();
        var options = DistributedTransactionOptions.Default with { CompleteInBackground = true };
        await using var tx = await catalog.BeginDistributedAsync(["orders", "billing"], options);
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 33, async: true);
        await tx.CommitAsync();
        Assert.All(tx.Results!, r => Assert.Equal(ParticipantOutcome.Committed, r.Outcome));
        Assert.True(await TwoPhaseRig.EventuallyAsync(async () => await _rig.BalancesAsync(1) == (67, 133, 100)));
        Assert.True(await TwoPhaseRig.EventuallyAsync(async () => (await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id))).Count == 0));
    }

    [Fact]
    public async Task Beyond_the_limit_of_background_completions_a_commit_completes_phase_two_itself()
    {
        // No slot at all: CompleteInBackground changes nothing, so a fast caller cannot pile up prepared transactions.
        var catalog = _rig.Catalog(o => o.MaxBackgroundCompletions = 0);
        var options = DistributedTransactionOptions.Default with { CompleteInBackground = true };
        for (var i = 0; i < 5; i++)
        {
            await using var tx = await catalog.BeginDistributedAsync(["orders", "billing"], options);
            await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 1, async: true);
            await tx.CommitAsync();
            Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id))); // at once, not eventually
        }

        Assert.Equal((95, 105, 100), await _rig.BalancesAsync(1));
        Assert.Contains("MaxBackgroundCompletions", Assert.Throws<CatalogConfigurationException>(() => _rig.Catalog(o => o.MaxBackgroundCompletions = -1)).Message);
    }

    [Fact]
    public async Task An_unusable_log_folder_is_reported_before_any_work()
    {
        var notAFolder = Path.Combine(_rig.Folder, "a-file");
        await File.WriteAllTextAsync(notAFolder, "");
        var catalog = _rig.Catalog(o => o.LogFolder = notAFolder);
        var error = await Assert.ThrowsAsync<TransactionLogException>(() => catalog.BeginDistributedAsync("orders", "billing"));
        Assert.Contains("transaction log", error.Message);
        Assert.Contains(notAFolder, error.Message);
        Assert.Equal(0, catalog.GetEngine("orders").GetPoolStatistics().TotalCheckouts); // no database was touched
        Assert.Equal(0, catalog.GetEngine("billing").GetPoolStatistics().TotalCheckouts);
    }

    [Fact]
    public async Task One_database_alone_commits_in_one_phase_without_a_log()
    {
        var catalog = _rig.Catalog();
        await using var tx = await catalog.BeginDistributedAsync("billing");
        Assert.StartsWith("be.", tx.Id);
        await tx.Session("billing").ExecuteAsync("UPDATE accounts SET balance = 5 WHERE id = 2");
        await tx.CommitAsync();
        Assert.Equal(5, await _rig.BalanceAsync("billing", 2));
        Assert.False(Directory.Exists(_rig.LogFolder));
    }

    [Fact]
    public async Task Bad_coordinator_and_database_settings_are_reported_with_every_problem()
    {
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.CreateBuilder()
            .AddDatabase("audit", _rig.AuditUrl, o => o.TwoPhaseCommit = true)
            .ConfigureTransactions(o =>
            {
                o.CoordinatorName = "has.dots";
                o.LogDatabase = "nowhere";
            })
            .Build());
        Assert.Contains(error.Problems, p => p.Database == "audit" && p.Key == "TwoPhaseCommit" && p.Message.Contains("last resource"));
        Assert.Contains(error.Problems, p => p.Key == "Transactions:CoordinatorName");
        Assert.Contains(error.Problems, p => p.Key == "Transactions:LogDatabase" && p.Message.Contains("no database named 'nowhere'"));

        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Databases:ledger:Url"] = _rig.OrdersUrl,
            ["Databases:ledger:TwoPhaseCommit"] = "false",
            ["Databases:other:Url"] = _rig.OrdersUrl,
            ["Databases:other:TwoPhaseCommit"] = "maybe",
        }).Build();
        var bad = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.FromConfiguration(config.GetSection("Databases")));
        Assert.Contains(bad.Problems, p => p.Database == "other" && p.Key == "TwoPhaseCommit" && p.Message.Contains("'maybe'"));
        Assert.DoesNotContain(bad.Problems, p => p.Database == "ledger");
    }
}
