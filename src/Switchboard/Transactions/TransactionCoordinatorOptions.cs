using System.Reflection;
using Switchboard.Dialects;
using Switchboard.Transactions;

namespace Switchboard;

/// <summary>
/// How the catalog coordinates distributed transactions: where the durable log of commit decisions lives, what the
/// coordinator is called in transaction ids, and when recovery runs. Set with
/// <see cref="SwitchboardCatalogBuilder.ConfigureTransactions"/>; validated and frozen when the catalog is built.
/// </summary>
public sealed class TransactionCoordinatorOptions
{
    /// <summary>The log file's name inside <see cref="LogFolder"/>.</summary>
    public const string LogFileName = "switchboard-transactions.db";

    /// <summary>
    /// The folder of the coordinator log, a SQLite file in WAL mode written with <c>synchronous = FULL</c> (needs the
    /// Switchboard.Sqlite package). Put it on durable storage that outlives deployments: losing it while transactions are
    /// in doubt loses their decisions. Default: <c>.switchboard/transactions</c> under the current directory, which is
    /// also where <c>switchboard recover</c> looks by default.
    /// </summary>
    public string? LogFolder { get; set; }

    /// <summary>
    /// Instead of a file, keep the log in this named database (tables <c>switchboard_tx_*</c>, created on first use).
    /// Use a database that is not itself a participant, on durable storage. Excludes <see cref="LogFolder"/>.
    /// </summary>
    public string? LogDatabase { get; set; }

    /// <summary>
    /// The coordinator's name, written into every transaction id so operators can tell whose prepared transactions they
    /// see: 1-16 letters, digits, '-' or '_'. Default: the entry assembly's name. Recovery recognises its own transactions
    /// by the log's random id, not by this name.
    /// </summary>
    public string? CoordinatorName { get; set; }

    /// <summary>
    /// Whether building the catalog starts a recovery pass in the background when a log already exists, so that
    /// transactions left in doubt by a crash are completed. Default true.
    /// </summary>
    public bool RecoverOnStart { get; set; } = true;

    /// <summary>The first wait before retrying phase two on an unreachable participant; doubles up to <see cref="MaxRetryInterval"/>. Default 1 s.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between retries of phase two. Default 30 s.</summary>
    public TimeSpan MaxRetryInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Where the commit decision of a transaction whose participants can all prepare is kept. True (the default): in the
    /// participants themselves — each branch writes a row into its own database's <c>switchboard_tx_decision</c> table
    /// (created on first use) in the same round trip as its prepare, and the transaction is committed the moment every
    /// branch is prepared. No separate durable write sits between the two phases, so a distributed commit costs what a
    /// hand-written parallel two-phase commit costs. False: the decision is written to the coordinator log (one more
    /// durable write per transaction, shared by concurrent ones) — for databases where Switchboard may not create a table.
    /// A transaction with a last resource keeps its decision in the last resource either way.
    /// </summary>
    public bool DecisionsInParticipants { get; set; } = true;

    /// <summary>
    /// The most transactions whose phase two may run in the background at once (with
    /// <see cref="DistributedTransactionOptions.CompleteInBackground"/>); beyond it a commit completes phase two itself, so
    /// a fast caller cannot pile up prepared transactions faster than the servers commit them. Default 16.
    /// </summary>
    public int MaxBackgroundCompletions { get; set; } = 16;

    /// <summary>Test hook: called at each named point of the protocol (the crash harness dies there).</summary>
    internal FaultHandler? FaultHandler { get; set; }
}

/// <summary>Validated, frozen coordinator options.</summary>
internal sealed record TransactionSettings(
    string CoordinatorName,
    string? LogPath,
    string? LogDatabase,
    bool RecoverOnStart,
    TimeSpan RetryInterval,
    TimeSpan MaxRetryInterval,
    bool DecisionsInParticipants,
    int MaxBackgroundCompletions,
    DialectRegistry Dialects,
    FaultHandler? Faults)
{
    /// <summary>Where the log is, for messages.</summary>
    public string LogLocation => LogDatabase is { } db ? $"database '{db}'" : LogPath!;

    public static TransactionSettings Create(TransactionCoordinatorOptions? options, IReadOnlyCollection<string> databaseNames,
        DialectRegistry dialects, List<ConfigurationProblem> problems)
    {
        options ??= new TransactionCoordinatorOptions();
        void Problem(string key, string message) => problems.Add(new("", "Transactions:" + key, message));

        var name = options.CoordinatorName ?? GlobalTransactionId.SanitizeCoordinator(Assembly.GetEntryAssembly()?.GetName().Name);
        if (!GlobalTransactionId.IsValidCoordinator(name))
        {
            Problem("CoordinatorName", $"'{name}' must be 1-{GlobalTransactionId.MaxCoordinatorLength} letters, digits, '-' or '_'");
        }

        string? path = null;
        if (options.LogDatabase is { } database)
        {
            if (options.LogFolder is not null)
            {
                Problem("LogDatabase", "give either LogFolder or LogDatabase, not both");
            }
            else if (!databaseNames.Contains(database, StringComparer.OrdinalIgnoreCase))
            {
                Problem("LogDatabase", $"no database named '{database}' (configured: {string.Join(", ", databaseNames.Order(StringComparer.OrdinalIgnoreCase))})");
            }
        }
        else
        {
            var folder = options.LogFolder ?? Path.Combine(".switchboard", "transactions");
            try
            {
                path = Path.Combine(Path.GetFullPath(folder), TransactionCoordinatorOptions.LogFileName);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
            {
                Problem("LogFolder", $"'{folder}' is not a usable path: {e.Message}");
            }
        }

        if (options.RetryInterval <= TimeSpan.Zero)
        {
            Problem("RetryInterval", "must be positive");
        }

        if (options.MaxRetryInterval < options.RetryInterval)
        {
            Problem("MaxRetryInterval", "must be at least RetryInterval");
        }

        if (options.MaxBackgroundCompletions < 0)
        {
            Problem("MaxBackgroundCompletions", "must be 0 or more");
        }

        return new TransactionSettings(name, path, options.LogDatabase, options.RecoverOnStart, options.RetryInterval, options.MaxRetryInterval,
            options.DecisionsInParticipants, options.MaxBackgroundCompletions, dialects, options.FaultHandler);
    }
}
