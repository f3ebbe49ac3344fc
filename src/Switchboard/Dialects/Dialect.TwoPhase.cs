using System.Buffers;
using System.Data;
using System.Data.Common;

namespace Switchboard.Dialects;

/// <summary>
/// Two-phase commit hooks (SQLAlchemy's <c>do_begin_twophase</c> / <c>do_prepare_twophase</c> / <c>do_commit_twophase</c> /
/// <c>do_recover_twophase</c>). A dialect with <see cref="SupportsTwoPhaseCommit"/> overrides the branch verbs; every dialect
/// can hold the small tables of decisions (the coordinator log, or a last resource's own decision record), whose SQL is
/// standard except where <see cref="TransactionTables"/> says otherwise.
/// </summary>
public abstract partial class Dialect
{
    /// <summary>
    /// Checks, once per engine, that the server is set up for two-phase commit, on a freshly opened connection.
    /// Returns what is wrong in plain words (it becomes part of an error naming the database), or null when it is ready.
    /// </summary>
    public virtual ValueTask<string?> CheckTwoPhaseCommitAsync(DbConnection connection, bool async, CancellationToken cancellationToken) =>
        new(SupportsTwoPhaseCommit ? null : $"{Name} cannot prepare a transaction");

    /// <summary>
    /// Begins a branch of a distributed transaction. Returns the ADO.NET transaction to run commands in, or null where the
    /// branch is driven by statements and commands must run without one (MySQL's <c>XA START</c>).
    /// </summary>
    public virtual ValueTask<DbTransaction?> BeginBranchAsync(DbConnection connection, DatabaseDefinition definition, TransactionBranch branch,
        IsolationLevel isolationLevel, bool async, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{Name} cannot take part in a two-phase commit");

    /// <summary>Prepares the branch: after this returns, the work survives a crash of the client and of the server until committed or rolled back.</summary>
    /// <remarks>Must fail, not silently roll back, when the transaction was already aborted by an earlier error.</remarks>
    public virtual ValueTask PrepareBranchAsync(DbConnection connection, DbTransaction? transaction, TransactionBranch branch, bool async,
        CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{Name} cannot prepare a transaction");

    /// <summary>
    /// Prepares the branch after writing <paramref name="record"/> into this database's decision table inside the same
    /// transaction, so the row becomes visible exactly when the branch commits: recovery reads it as proof that the
    /// transaction committed. Dialects override it to send both in one round trip. Same failure rule as
    /// <see cref="PrepareBranchAsync(DbConnection, DbTransaction?, TransactionBranch, bool, CancellationToken)"/>.
    /// </summary>
    public virtual async ValueTask PrepareBranchAsync(DbConnection connection, DbTransaction? transaction, TransactionBranch branch, CommitRecord record,
        bool async, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, TransactionTables.InsertCommitRecord, record, async, cancellationToken).ConfigureAwait(false);
        await PrepareBranchAsync(connection, transaction, branch, async, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="sql"/> with a commit record's values as the parameters <c>@gtid</c> and <c>@decided</c>.</summary>
    protected static async ValueTask ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CommitRecord record, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        AddParameter(command, "gtid", record.Key);
        AddParameter(command, "decided", record.DecidedMs);
        if (async)
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            command.ExecuteNonQuery();
        }

        static void AddParameter(DbCommand command, string name, object value)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }
    }

    /// <summary>Commits an unprepared branch in one phase (used when it is the only one with work, or the last resource).</summary>
    public virtual async ValueTask CommitBranchOnePhaseAsync(DbConnection connection, DbTransaction? transaction, TransactionBranch branch, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        await CommitTransactionAsync(connection, transaction, checkAborted: false, async, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Rolls back a branch that has not been prepared.</summary>
    public virtual async ValueTask RollbackBranchAsync(DbConnection connection, DbTransaction? transaction, TransactionBranch branch, bool async,
        CancellationToken cancellationToken)
    {
        if (transaction?.Connection is null)
        {
            return;
        }

        if (async)
        {
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            transaction.Rollback();
        }
    }

    /// <summary>Commits a prepared branch. Runs on any connection to the database that prepared it.</summary>
    public virtual ValueTask CommitPreparedAsync(DbConnection connection, TransactionBranch branch, bool async, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{Name} cannot prepare a transaction");

    /// <summary>Rolls back a prepared branch. Runs on any connection to the database that prepared it.</summary>
    public virtual ValueTask RollbackPreparedAsync(DbConnection connection, TransactionBranch branch, bool async, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{Name} cannot prepare a transaction");

    /// <summary>
    /// Lists the prepared branches this connection can complete (PostgreSQL: those of its database; MySQL: the whole server),
    /// whoever prepared them. Switchboard decides which are its own from the branch ids.
    /// </summary>
    public virtual ValueTask<IReadOnlyList<PreparedBranch>> ListPreparedAsync(DbConnection connection, bool async, CancellationToken cancellationToken) =>
        new([]);

    /// <summary>
    /// Whether an error from committing or rolling back a prepared branch says the server does not know the branch. Switchboard
    /// then checks <see cref="ListPreparedAsync"/>: MySQL also answers so while the branch is still attached to another live session.
    /// </summary>
    public virtual bool IsUnknownBranch(Exception exception) => false;

    /// <summary>
    /// Whether an error from preparing a branch says the server had already rolled the branch back (after a deadlock in
    /// it, say), so that the failure is reported as that earlier one's. Default: no.
    /// </summary>
    public virtual bool IsBranchRolledBack(Exception exception) => false;

    /// <summary>
    /// Ends the server session behind a connection that is being discarded in the middle of the protocol, without completing
    /// its branch: a prepared branch must outlive it, an unprepared one roll back. Default: nothing (closing the connection
    /// does it). MySQL keeps a prepared XA branch attached to its session, where no other session can finish it, until the
    /// session ends; and its drivers try a plain ROLLBACK on close, which the server refuses.
    /// </summary>
    public virtual ValueTask EndSessionAsync(DbConnection connection, bool async, CancellationToken cancellationToken) => default;

    /// <summary>
    /// Ends every other server session that is still running the PREPARE of <paramref name="branch"/> (one whose connection
    /// was lost in the middle of it), and returns whether none is left — only then does "no such prepared branch" mean the
    /// branch will never be prepared. Found by the statement it runs, which names the branch, never by a session id that a
    /// pooler, a restart or a failover may have given to someone else. Runs on a fresh connection. Default: cannot tell.
    /// </summary>
    public virtual ValueTask<bool> EndPreparingSessionsAsync(DbConnection connection, TransactionBranch branch, bool async, CancellationToken cancellationToken) =>
        new(false);

    /// <summary>
    /// Ends the session a prepared branch is still attached to — the branch's own, identified by the id the driver reported
    /// at begin, whose client connection is gone but whose server session lives on — so that any session can finish the
    /// branch. Called only when the server says the branch is attached to a live session, which also means the server has
    /// not restarted since (a restart detaches every branch), so the id is still that session's. Default: cannot.
    /// </summary>
    public virtual ValueTask<bool> EndAttachedSessionAsync(DbConnection connection, long sessionHint, bool async, CancellationToken cancellationToken) =>
        new(false);

    /// <summary>The server's id of the session behind a connection, as the driver reports it (PostgreSQL backend pid, MySQL thread id).</summary>
    public virtual long? ServerSessionId(DbConnection connection) => null;

    /// <summary>The SQL of the decision tables on this kind of database.</summary>
    public virtual TransactionTableSql TransactionTables => TransactionTableSql.Standard;
}

/// <summary>
/// One branch of a distributed transaction: the global id shared by every participant, and a qualifier telling the
/// participants apart (two databases on one server cannot prepare the same id). Both use only <c>[A-Za-z0-9._-]</c>
/// when Switchboard made them; a foreign branch may hold anything.
/// </summary>
public sealed record TransactionBranch
{
    // Checked for every branch: a vectorised search, not a per-character delegate.
    private static readonly SearchValues<char> PlainCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    // The id as servers know it, made once: it is written into every statement and record of the branch.
    private readonly string _text;

    /// <param name="globalId">The distributed transaction's id, for example <c>sb1.orders-api.3f9a2c7d1e0b.k2x9q1.00000005.P2</c>.</param>
    /// <param name="qualifier">The branch within it, for example <c>0</c>; empty for a foreign branch that has none.</param>
    public TransactionBranch(string globalId, string qualifier)
    {
        ArgumentNullException.ThrowIfNull(globalId);
        ArgumentNullException.ThrowIfNull(qualifier);
        GlobalId = globalId;
        Qualifier = qualifier;
        _text = qualifier.Length == 0 ? globalId : globalId + "/" + qualifier;
        IsPlain = IsPlainText(globalId) && IsPlainText(qualifier);
    }

    /// <summary>The distributed transaction's id.</summary>
    public string GlobalId { get; }

    /// <summary>The branch within it; empty for a foreign branch that has none.</summary>
    public string Qualifier { get; }

    /// <summary>Whether both parts can be written inside a quoted SQL literal without escaping.</summary>
    public bool IsPlain { get; }

    /// <summary><c>global-id/qualifier</c>, or the global id alone when there is no qualifier.</summary>
    public override string ToString() => _text;

    /// <summary>Throws unless <see cref="IsPlain"/>: dialects inline branch ids into statements that take no parameters.</summary>
    public TransactionBranch EnsurePlain() =>
        IsPlain ? this : throw new ArgumentException($"branch id '{this}' has characters Switchboard does not write into SQL", nameof(GlobalId));

    private static bool IsPlainText(string text) => text.Length <= 200 && !text.AsSpan().ContainsAnyExcept(PlainCharacters);
}

/// <summary>
/// A branch's commit record: the row it writes into its own database's decision table (<c>switchboard_tx_decision</c>) in
/// the round trip that prepares it. Visible exactly when the branch has committed, which is all recovery needs to know.
/// </summary>
/// <param name="Key">The branch's id (<c>global-id/qualifier</c>).</param>
/// <param name="DecidedMs">When the coordinator asked for it, in Unix milliseconds (for people reading the table).</param>
public readonly record struct CommitRecord(string Key, long DecidedMs);

/// <summary>A prepared branch found on a database by <see cref="Dialect.ListPreparedAsync"/>.</summary>
/// <param name="Branch">Its id, split into global id and qualifier as far as the dialect can tell.</param>
/// <param name="PreparedAt">When it was prepared, where the server says.</param>
/// <param name="Owner">The user that prepared it, where the server says.</param>
public sealed record PreparedBranch(TransactionBranch Branch, DateTimeOffset? PreparedAt, string? Owner);

/// <summary>
/// The SQL of Switchboard's decision tables: <c>switchboard_tx_decision</c> (one row per decided global transaction),
/// <c>switchboard_tx_meta</c> (the log's identity) and <c>switchboard_tx_incarnation</c> (one row per coordinator process).
/// Standard SQL that SQLite, PostgreSQL and MySQL all accept, except the insert that ignores a duplicate key.
/// Parameters are named <c>@name</c>.
/// </summary>
public sealed record TransactionTableSql
{
    public static TransactionTableSql Standard { get; } = new();

    /// <summary>Creates the tables when missing; each statement runs on its own.</summary>
    public IReadOnlyList<string> CreateTables { get; init; } = CreateTablesKeyedBy("VARCHAR(100)");

    /// <summary>
    /// <see cref="CreateTables"/> with the decision table's <c>gtid</c> key of the given type: a dialect names the byte-order
    /// collation of its database there (ids are ASCII and only ever matched exactly).
    /// </summary>
    public static IReadOnlyList<string> CreateTablesKeyedBy(string gtidType) =>
    [
        $"CREATE TABLE IF NOT EXISTS switchboard_tx_decision (gtid {gtidType} NOT NULL PRIMARY KEY, outcome CHAR(1) NOT NULL, participants VARCHAR(4000) NOT NULL, decided_ms BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS switchboard_tx_meta (name VARCHAR(64) NOT NULL PRIMARY KEY, value VARCHAR(200) NOT NULL)",
        "CREATE TABLE IF NOT EXISTS switchboard_tx_incarnation (id VARCHAR(16) NOT NULL PRIMARY KEY, process VARCHAR(200) NOT NULL, started_ms BIGINT NOT NULL, heartbeat_ms BIGINT NOT NULL)",
    ];

    /// <summary>Creates only the decision table (what a last resource, or a participant keeping decisions, holds).</summary>
    public string CreateDecisionTable => CreateTables[0];

    /// <summary>Fails unless the decision table exists and can be read.</summary>
    public string ProbeDecisionTable { get; init; } = "SELECT 1 FROM switchboard_tx_decision WHERE 1 = 0";

    /// <summary>Statements run at the start of each log write, after BEGIN (for example to force a synchronous commit).</summary>
    public IReadOnlyList<string> LogTransactionSetup { get; init; } = [];

    /// <summary>Statements run once on each connection the log opens (for example <c>PRAGMA synchronous = FULL</c>).</summary>
    public IReadOnlyList<string> LogConnectionSetup { get; init; } = [];

    /// <summary>Records a decision; a duplicate key fails (inside a last resource's transaction, that failure is the point).</summary>
    public string InsertDecision { get; init; } =
        "INSERT INTO switchboard_tx_decision (gtid, outcome, participants, decided_ms) VALUES (@gtid, @outcome, @participants, @decided)";

    /// <summary>A branch's <see cref="CommitRecord"/>: <c>@gtid</c> is the branch id, <c>@decided</c> the time.</summary>
    public string InsertCommitRecord { get; init; } =
        "INSERT INTO switchboard_tx_decision (gtid, outcome, participants, decided_ms) VALUES (@gtid, 'C', '', @decided)";

    /// <summary>Records a decision unless one exists; affects 0 rows when it does.</summary>
    public string InsertDecisionIfAbsent { get; init; } =
        "INSERT INTO switchboard_tx_decision (gtid, outcome, participants, decided_ms) SELECT @gtid, @outcome, @participants, @decided WHERE NOT EXISTS (SELECT 1 FROM switchboard_tx_decision WHERE gtid = @gtid)";

    public string SelectDecision { get; init; } = "SELECT outcome FROM switchboard_tx_decision WHERE gtid = @gtid";

    public string SelectDecisions { get; init; } = "SELECT gtid, outcome, participants, decided_ms FROM switchboard_tx_decision";

    public string DeleteDecision { get; init; } = "DELETE FROM switchboard_tx_decision WHERE gtid = @gtid";

    /// <summary>Deletes many decisions; <c>@gtids</c> is a list, expanded by Dapper into <c>(@gtids1, @gtids2, …)</c>.</summary>
    public string DeleteDecisions { get; init; } = "DELETE FROM switchboard_tx_decision WHERE gtid IN @gtids";

    public string SelectMeta { get; init; } = "SELECT value FROM switchboard_tx_meta WHERE name = @name";

    public string InsertMetaIfAbsent { get; init; } =
        "INSERT INTO switchboard_tx_meta (name, value) SELECT @name, @value WHERE NOT EXISTS (SELECT 1 FROM switchboard_tx_meta WHERE name = @name)";

    public string InsertIncarnation { get; init; } =
        "INSERT INTO switchboard_tx_incarnation (id, process, started_ms, heartbeat_ms) VALUES (@id, @process, @now, @now)";

    public string UpdateHeartbeat { get; init; } = "UPDATE switchboard_tx_incarnation SET heartbeat_ms = @now WHERE id = @id";

    /// <summary>The incarnation rows and the clock they are measured against (<c>@now</c>, or the database's own).</summary>
    public string SelectIncarnations { get; init; } = "SELECT id, process, started_ms, heartbeat_ms, @now FROM switchboard_tx_incarnation";

    /// <summary>
    /// This SQL with the incarnation rows' times taken from the database's own clock (<paramref name="nowMs"/>, an expression
    /// for Unix milliseconds): processes whose clocks disagree then still agree on how old a heartbeat is.
    /// </summary>
    public TransactionTableSql WithServerClock(string nowMs) => this with
    {
        InsertIncarnation = $"INSERT INTO switchboard_tx_incarnation (id, process, started_ms, heartbeat_ms) VALUES (@id, @process, {nowMs}, {nowMs})",
        UpdateHeartbeat = $"UPDATE switchboard_tx_incarnation SET heartbeat_ms = {nowMs} WHERE id = @id",
        SelectIncarnations = $"SELECT id, process, started_ms, heartbeat_ms, {nowMs} FROM switchboard_tx_incarnation",
        DeleteIncarnation = $"DELETE FROM switchboard_tx_incarnation WHERE id = @id AND heartbeat_ms < {nowMs} - @staleMs",
    };

    /// <summary>Deletes an ended process's row — only if its heartbeat is still stale (<c>@staleMs</c>), not renewed since it was read.</summary>
    public string DeleteIncarnation { get; init; } = "DELETE FROM switchboard_tx_incarnation WHERE id = @id AND heartbeat_ms < @now - @staleMs";
}
