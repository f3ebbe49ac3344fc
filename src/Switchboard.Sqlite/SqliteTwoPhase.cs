using Switchboard.Dialects;

namespace Switchboard.Sqlite;

/// <summary>
/// SQLite cannot prepare a transaction, so it joins a distributed transaction only as the last resource: its own commit,
/// which also records the decision in <c>switchboard_tx_decision</c>, is the commit point. A SQLite file is also the
/// default coordinator log, written with <c>synchronous = FULL</c> so that each decision is on disk when the commit returns.
/// </summary>
public sealed partial class SqliteDialect
{
    private static readonly TransactionTableSql SqliteTables = (TransactionTableSql.Standard with
    {
        InsertDecisionIfAbsent = "INSERT OR IGNORE INTO switchboard_tx_decision (gtid, outcome, participants, decided_ms) VALUES (@gtid, @outcome, @participants, @decided)",
        InsertMetaIfAbsent = "INSERT OR IGNORE INTO switchboard_tx_meta (name, value) VALUES (@name, @value)",
        LogConnectionSetup = ["PRAGMA synchronous = FULL"],
    }).WithServerClock("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)");

    public override TransactionTableSql TransactionTables => SqliteTables;
}
