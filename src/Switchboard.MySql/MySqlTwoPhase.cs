using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Text;
using Switchboard.Dialects;

namespace Switchboard.MySql;

/// <summary>
/// Two-phase commit on MySQL and MariaDB with XA: <c>XA START</c> / <c>XA END</c> / <c>XA PREPARE</c> / <c>XA COMMIT</c> /
/// <c>XA ROLLBACK</c>, and <c>XA RECOVER</c> for recovery. The branch's gtrid is the global id and its bqual the qualifier.
/// Commands of an XA branch run without an ADO.NET transaction. MariaDB keeps prepared XA branches across a disconnect
/// since 10.5; MySQL 8 needs the XA_RECOVER_ADMIN privilege for XA RECOVER.
/// </summary>
public sealed partial class MySqlDialect
{
    private static readonly TransactionTableSql MySqlTables = (TransactionTableSql.Standard with
    {
        // Ids are ASCII and matched exactly, as XA matches them: a binary ASCII key, not the table's default (often a
        // case-insensitive utf8mb4 collation, four bytes a character in the index).
        CreateTables = TransactionTableSql.CreateTablesKeyedBy("VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin"),
        InsertDecisionIfAbsent = "INSERT IGNORE INTO switchboard_tx_decision (gtid, outcome, participants, decided_ms) VALUES (@gtid, @outcome, @participants, @decided)",
        InsertMetaIfAbsent = "INSERT IGNORE INTO switchboard_tx_meta (name, value) VALUES (@name, @value)",
    }).WithServerClock("TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000"); // UTC: no daylight-saving hour counted twice

    // A prepared branch stays attached to its session until the session ends. A coordinator whose host died, or was cut off
    // without a reset, leaves that session open until wait_timeout (8 hours by default), and nobody can finish the branch
    // until then. Prepared, a session only waits for the coordinator's COMMIT or ROLLBACK, which a live coordinator sends
    // within ten minutes of the prepare (past that it rolls back): an idle limit of fifteen minutes ends only the sessions
    // of coordinators that are gone. Completing the branch puts the server's default back, in the same round trip.
    // (A user variable could hold the session's own value for the restore, but MySql.Data takes '@name' for a parameter
    // unless the connection string allows user variables; a non-interactive session starts from the global value.)
    private const string LimitIdlePrepared = "SET SESSION wait_timeout = LEAST(@@SESSION.wait_timeout, 900)";
    private const string RestoreIdleLimit = "SET SESSION wait_timeout = @@GLOBAL.wait_timeout";

    public override TransactionTableSql TransactionTables => MySqlTables;

    public override async ValueTask<string?> CheckTwoPhaseCommitAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        try
        {
            await ListPreparedAsync(connection, async, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (DbException e) when (Classify(e) == DatabaseErrorKind.PermissionDenied)
        {
            return $"the user may not list prepared XA transactions ({e.Message}), so recovery could not finish them after a crash. "
                + "Grant XA_RECOVER_ADMIN (MySQL 8), or set \"TwoPhaseCommit\": false on the database so that it can join only as the last resource";
        }
    }

    public override async ValueTask<DbTransaction?> BeginBranchAsync(DbConnection connection, DatabaseDefinition definition, TransactionBranch branch,
        IsolationLevel isolationLevel, bool async, CancellationToken cancellationToken)
    {
        var level = isolationLevel switch
        {
            IsolationLevel.Unspecified or IsolationLevel.RepeatableRead => "REPEATABLE READ",
            IsolationLevel.ReadCommitted => "READ COMMITTED",
            IsolationLevel.ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel.Serializable => "SERIALIZABLE",
            _ => throw new ArgumentException($"MySQL has no {isolationLevel} isolation level", nameof(isolationLevel)),
        };

        // One round trip; SET TRANSACTION applies to the next transaction only, so the pooled connection keeps no state.
        await ExecuteAsync(connection, null, $"SET TRANSACTION ISOLATION LEVEL {level}; XA START {Xid(branch)}", async, cancellationToken)
            .ConfigureAwait(false);
        return null;
    }

    public override ValueTask PrepareBranchAsync(DbConnection connection, DbTransaction? transaction, TransactionBranch branch, bool async,
        CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, $"XA END {Xid(branch)}; XA PREPARE {Xid(branch)}; {LimitIdlePrepared}", async, cancellationToken);

    public override ValueTask PrepareBranchAsync(DbConnection connection, DbTransaction? transaction, TransactionBranch branch, CommitRecord record,
        bool async, CancellationToken cancellationToken) =>

        // One round trip: the row joins the XA branch before it ends.
        ExecuteAsync(connection, null, $"{MySqlTables.InsertCommitRecord}; XA END {Xid(branch)}; XA PREPARE {Xid(branch)}; {LimitIdlePrepared}", record, async,
            cancellationToken);

    public override ValueTask CommitBranchOnePhaseAsync(DbConnection connection, DbTransaction? transaction, TransactionBranch branch, bool async,
        CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, $"XA END {Xid(branch)}; XA COMMIT {Xid(branch)} ONE PHASE", async, cancellationToken);

    public override async ValueTask RollbackBranchAsync(DbConnection connection, DbTransaction? transaction, TransactionBranch branch, bool async,
        CancellationToken cancellationToken)
    {
        // XA END fails when a deadlock already ended the branch (XA_RBDEADLOCK); XA ROLLBACK is what matters.
        try
        {
            await ExecuteAsync(connection, null, $"XA END {Xid(branch)}", async, cancellationToken).ConfigureAwait(false);
        }
        catch (DbException)
        {
        }

        try
        {
            await ExecuteAsync(connection, null, $"XA ROLLBACK {Xid(branch)}", async, cancellationToken).ConfigureAwait(false);
        }
        catch (DbException e) when (IsUnknownBranch(e))
        {
        }
    }

    public override ValueTask CommitPreparedAsync(DbConnection connection, TransactionBranch branch, bool async, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, $"XA COMMIT {Xid(branch)}; {RestoreIdleLimit}", async, cancellationToken);

    public override ValueTask RollbackPreparedAsync(DbConnection connection, TransactionBranch branch, bool async, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, $"XA ROLLBACK {Xid(branch)}; {RestoreIdleLimit}", async, cancellationToken);

    public override async ValueTask<IReadOnlyList<PreparedBranch>> ListPreparedAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        // XA RECOVER lists the whole server's prepared branches: formatID, gtrid_length, bqual_length, data (gtrid + bqual).
        using var command = connection.CreateCommand();
        command.CommandText = "XA RECOVER";
        var result = new List<PreparedBranch>();
        using var reader = async ? await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteReader();
        while (async ? await reader.ReadAsync(cancellationToken).ConfigureAwait(false) : reader.Read())
        {
            var gtridLength = Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture);
            var data = reader.GetValue(3) switch
            {
                byte[] bytes => bytes,
                var other => Encoding.UTF8.GetBytes(Convert.ToString(other, CultureInfo.InvariantCulture) ?? ""),
            };
            gtridLength = Math.Min(gtridLength, data.Length);
            result.Add(new PreparedBranch(
                new TransactionBranch(Encoding.UTF8.GetString(data, 0, gtridLength), Encoding.UTF8.GetString(data, gtridLength, data.Length - gtridLength)),
                null, null));
        }

        return result;
    }

    // 1397: XAER_NOTA, "Unknown XID".
    public override bool IsUnknownBranch(Exception exception) => _driver.ErrorNumber(exception) == 1397;

    // 1402 XA_RBROLLBACK, 1613 XA_RBTIMEOUT, 1614 XA_RBDEADLOCK; 1399 XAER_RMFAIL in the "ROLLBACK ONLY" state (MariaDB
    // after a deadlock inside the branch).
    public override bool IsBranchRolledBack(Exception exception) => _driver.ErrorNumber(exception) switch
    {
        1402 or 1613 or 1614 => true,
        1399 => exception.Message.Contains("ROLLBACK ONLY", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    public override async ValueTask EndSessionAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        // KILL of the session's own thread: the server ends it at its next check (not necessarily before KILL answers), and
        // a prepared branch then detaches and waits for XA COMMIT or XA ROLLBACK from any session (MariaDB 10.5+, MySQL
        // 5.7.7+). Whoever completes the branch later handles "still attached" (PreparedBranches.CompleteAsync).
        if (_driver.ServerThreadId(connection) is not { } thread)
        {
            return;
        }

        try
        {
            await ExecuteAsync(connection, null, "KILL " + thread.ToString(CultureInfo.InvariantCulture), async, cancellationToken).ConfigureAwait(false);
        }
        catch (DbException)
        {
            // "Connection was killed" is the expected answer.
        }
    }

    public override long? ServerSessionId(DbConnection connection) =>
        connection.State == System.Data.ConnectionState.Open ? _driver.ServerThreadId(connection) : null;

    public override async ValueTask<bool> EndAttachedSessionAsync(DbConnection connection, long sessionHint, bool async, CancellationToken cancellationToken)
    {
        // Only an idle session of this same user: the one a branch is attached to has lost its client and waits for nothing.
        // (Behind a proxy — ProxySQL, MaxScale — the driver's thread id is the proxy's: such a session is not found here.)
        var id = sessionHint.ToString(CultureInfo.InvariantCulture);
        using (var check = connection.CreateCommand())
        {
            check.CommandText = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = " + id
                + " AND COMMAND = 'Sleep' AND USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)";
            if (Convert.ToInt64(async ? await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) : check.ExecuteScalar(),
                CultureInfo.InvariantCulture) == 0)
            {
                return false;
            }
        }

        try
        {
            await ExecuteAsync(connection, null, "KILL " + id, async, cancellationToken).ConfigureAwait(false);
        }
        catch (DbException e) when (_driver.ErrorNumber(e) == 1094)
        {
            return true; // 1094: unknown thread id — it has ended already
        }

        // KILL marks the thread; it ends, and lets go of the branch, at its next check.
        for (var attempt = 0; attempt < 50; attempt++)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = " + id;
            if (Convert.ToInt64(async ? await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteScalar(),
                CultureInfo.InvariantCulture) == 0)
            {
                return true;
            }

            await PauseAsync(TimeSpan.FromMilliseconds(100), async, cancellationToken).ConfigureAwait(false);
        }

        return false;
    }

    public override async ValueTask<bool> EndPreparingSessionsAsync(DbConnection connection, TransactionBranch branch, bool async,
        CancellationToken cancellationToken)
    {
        // The process list shows the statement each session runs, and the branch's id is unique to it: KILL every session
        // still running its commit record's insert (which names the branch as 'gtrid/bqual'), its XA END or its XA PREPARE
        // ('gtrid','bqual'), then wait until none is listed. (A session that has finished preparing keeps the branch
        // attached, and XA RECOVER lists it: that case is "attached", not "not found".)
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var running = new List<long>();
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND (LOCATE(@xid, INFO) > 0 OR LOCATE(@key, INFO) > 0)";
                var xid = command.CreateParameter();
                xid.ParameterName = "@xid";
                xid.Value = Xid(branch);
                command.Parameters.Add(xid);
                var key = command.CreateParameter();
                key.ParameterName = "@key";
                key.Value = "'" + branch + "'";
                command.Parameters.Add(key);
                using var reader = async ? await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteReader();
                while (async ? await reader.ReadAsync(cancellationToken).ConfigureAwait(false) : reader.Read())
                {
                    running.Add(Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture));
                }
            }

            if (running.Count == 0)
            {
                return true;
            }

            foreach (var id in running)
            {
                try
                {
                    await ExecuteAsync(connection, null, "KILL " + id.ToString(CultureInfo.InvariantCulture), async, cancellationToken).ConfigureAwait(false);
                }
                catch (DbException e) when (_driver.ErrorNumber(e) == 1094)
                {
                    // 1094: unknown thread id — it has ended already.
                }
            }

            await PauseAsync(TimeSpan.FromMilliseconds(100), async, cancellationToken).ConfigureAwait(false);
        }

        return false;
    }

    private static string Xid(TransactionBranch branch)
    {
        branch.EnsurePlain();
        return $"'{branch.GlobalId}','{branch.Qualifier}'";
    }
}
