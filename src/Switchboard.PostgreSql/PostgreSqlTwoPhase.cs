using System.Data;
using System.Data.Common;
using System.Globalization;
using Npgsql;
using Switchboard.Dialects;

namespace Switchboard.PostgreSql;

/// <summary>
/// Two-phase commit on PostgreSQL: an ordinary transaction, then <c>PREPARE TRANSACTION</c>, <c>COMMIT PREPARED</c> /
/// <c>ROLLBACK PREPARED</c>, and <c>pg_prepared_xacts</c> for recovery. A branch's gid is <c>global-id/qualifier</c>.
/// Needs <c>max_prepared_transactions</c> above 0 (a start-up setting), and the same user (or a superuser) to finish a branch.
/// </summary>
public sealed partial class PostgreSqlDialect
{
    private static readonly TransactionTableSql PostgreSqlTables = (TransactionTableSql.Standard with
    {
        // Ids are ASCII and compared for equality only: in byte order ("C") no index comparison pays for the database's
        // collation (measured: 6.8 against 9.5 us per record insert under an ICU "en" collation).
        CreateTables = TransactionTableSql.CreateTablesKeyedBy("VARCHAR(100) COLLATE \"C\""),
        InsertDecisionIfAbsent = "INSERT INTO switchboard_tx_decision (gtid, outcome, participants, decided_ms) VALUES (@gtid, @outcome, @participants, @decided) ON CONFLICT (gtid) DO NOTHING",
        InsertMetaIfAbsent = "INSERT INTO switchboard_tx_meta (name, value) VALUES (@name, @value) ON CONFLICT (name) DO NOTHING",

        // Dapper hands Npgsql a list as one array parameter rather than expanding it.
        DeleteDecisions = "DELETE FROM switchboard_tx_decision WHERE gtid = ANY(@gtids)",

        // A log write must be durable even where the server or database runs with synchronous_commit = off.
        LogTransactionSetup = ["SET LOCAL synchronous_commit = on"],
    }).WithServerClock("(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT");

    // TransactionTableSql.InsertCommitRecord with $n placeholders, for a batch that Npgsql sends without parsing.
    private const string InsertCommitRecordPositional =
        "INSERT INTO switchboard_tx_decision (gtid, outcome, participants, decided_ms) VALUES ($1, 'C', '', $2)";

    public override TransactionTableSql TransactionTables => PostgreSqlTables;

    public override async ValueTask<string?> CheckTwoPhaseCommitAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SHOW max_prepared_transactions";
        var value = Convert.ToString(async
            ? await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false)
            : command.ExecuteScalar(), CultureInfo.InvariantCulture);
        return value == "0"
            ? "the server has max_prepared_transactions = 0, so it cannot prepare transactions. Set max_prepared_transactions "
              + "above 0 (at least the number of transactions that commit at once; max_connections is safe) in postgresql.conf and "
              + "restart PostgreSQL, or set \"TwoPhaseCommit\": false on the database so that it can join only as the last resource"
            : null;
    }

    public override async ValueTask<DbTransaction?> BeginBranchAsync(DbConnection connection, DatabaseDefinition definition, TransactionBranch branch,
        IsolationLevel isolationLevel, bool async, CancellationToken cancellationToken) =>
        await BeginTransactionAsync(connection, definition, isolationLevel, isReadOnly: false, async, cancellationToken).ConfigureAwait(false);

    public override ValueTask PrepareBranchAsync(DbConnection connection, DbTransaction? transaction, TransactionBranch branch, bool async,
        CancellationToken cancellationToken) =>

        // In an aborted transaction PREPARE TRANSACTION answers ROLLBACK without an error; the SELECT before it fails instead
        // (25P02), in the same round trip, so an aborted branch is never taken for a prepared one.
        ExecuteAsync(connection, transaction, $"SELECT 1; PREPARE TRANSACTION '{Gid(branch)}'", async, cancellationToken);

    public override async ValueTask PrepareBranchAsync(DbConnection connection, DbTransaction? transaction, TransactionBranch branch, CommitRecord record,
        bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);

        // One round trip, as a batch with positional parameters, so that Npgsql has no SQL to parse on this hot path. In an
        // aborted transaction the INSERT fails (25P02) before PREPARE could answer a silent ROLLBACK.
        using var batch = connection.CreateBatch();
        batch.Transaction = transaction;
        var insert = batch.CreateBatchCommand();
        insert.CommandText = InsertCommitRecordPositional;
        AddPositional(insert, record.Key);
        AddPositional(insert, record.DecidedMs);
        batch.BatchCommands.Add(insert);
        var prepare = batch.CreateBatchCommand();
        prepare.CommandText = $"PREPARE TRANSACTION '{Gid(branch)}'";
        batch.BatchCommands.Add(prepare);
        if (async)
        {
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            batch.ExecuteNonQuery();
        }

        static void AddPositional(DbBatchCommand command, object value)
        {
            var parameter = command.CreateParameter();
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }
    }

    public override ValueTask CommitBranchOnePhaseAsync(DbConnection connection, DbTransaction? transaction, TransactionBranch branch, bool async,
        CancellationToken cancellationToken) =>

        // Same guard as PrepareBranchAsync: COMMIT of an aborted transaction is a silent ROLLBACK.
        ExecuteAsync(connection, transaction, "SELECT 1; COMMIT", async, cancellationToken);

    public override ValueTask CommitPreparedAsync(DbConnection connection, TransactionBranch branch, bool async, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, $"COMMIT PREPARED '{Gid(branch)}'", async, cancellationToken);

    public override ValueTask RollbackPreparedAsync(DbConnection connection, TransactionBranch branch, bool async, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, $"ROLLBACK PREPARED '{Gid(branch)}'", async, cancellationToken);

    public override async ValueTask<IReadOnlyList<PreparedBranch>> ListPreparedAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        // COMMIT PREPARED must run in the database that prepared the branch: list only this connection's database.
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT gid, prepared, owner FROM pg_prepared_xacts WHERE database = current_database() ORDER BY prepared";
        var result = new List<PreparedBranch>();
        using var reader = async ? await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteReader();
        while (async ? await reader.ReadAsync(cancellationToken).ConfigureAwait(false) : reader.Read())
        {
            var gid = reader.GetString(0);
            var slash = gid.LastIndexOf('/');
            var branch = slash > 0 ? new TransactionBranch(gid[..slash], gid[(slash + 1)..]) : new TransactionBranch(gid, "");
            result.Add(new PreparedBranch(branch, new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero), reader.GetString(2)));
        }

        return result;
    }

    public override async ValueTask<bool> EndPreparingSessionsAsync(DbConnection connection, TransactionBranch branch, bool async,
        CancellationToken cancellationToken)
    {
        // A session of the same user shows its statement in pg_stat_activity, and the gid is unique to this branch: terminate
        // every session whose statement prepares it (running, or idle right after it), then wait until none is listed. The
        // pid the driver reported is not used: behind a pooler, or after a restart, it may be somebody else's. Without
        // track_activities nothing can be seen, so nothing is confirmed.
        for (var attempt = 0; attempt < 50; attempt++)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT CASE WHEN current_setting('track_activities')::boolean THEN (SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                + "WHERE pid <> pg_backend_pid() AND strpos(query, @statement) > 0) ELSE -1 END";
            var statement = command.CreateParameter();
            statement.ParameterName = "statement";
            statement.Value = $"PREPARE TRANSACTION '{Gid(branch)}'";
            command.Parameters.Add(statement);
            var left = Convert.ToInt64(async ? await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteScalar(),
                CultureInfo.InvariantCulture);
            if (left <= 0)
            {
                return left == 0;
            }

            await PauseAsync(TimeSpan.FromMilliseconds(100), async, cancellationToken).ConfigureAwait(false);
        }

        return false;
    }

    // 42704: "prepared transaction with identifier ... does not exist".
    public override bool IsUnknownBranch(Exception exception) => exception is PostgresException { SqlState: "42704" };

    // The gid is global-id/qualifier, exactly the branch's own text.
    private static string Gid(TransactionBranch branch) => branch.EnsurePlain().ToString();
}
