namespace Switchboard;

/// <summary>Options of one recovery pass.</summary>
public sealed record RecoveryOptions
{
    /// <summary>Only say what would be done: no branch is touched and nothing is written to the log.</summary>
    public bool DryRun { get; init; }
}

/// <summary>What recovery did (or, in a dry run, would do) with one prepared branch.</summary>
public enum RecoveryActionKind
{
    /// <summary>Committed: its transaction's commit decision was recorded.</summary>
    Committed,

    /// <summary>Rolled back: no commit decision was recorded (presumed abort), or an abort was.</summary>
    RolledBack,

    /// <summary>Dry run: would be committed.</summary>
    WouldCommit,

    /// <summary>Dry run: would be rolled back.</summary>
    WouldRollBack,

    /// <summary>Left alone: its transaction is still being decided by a running process.</summary>
    LeftInProgress,

    /// <summary>Not this coordinator's (another application's, or prepared by hand): never touched.</summary>
    Foreign,

    /// <summary>The commit or rollback failed; it stays prepared and a later pass tries again.</summary>
    Failed,
}

/// <summary>One prepared branch that recovery found, and what became of it.</summary>
/// <param name="TransactionId">The global transaction id (or a foreign branch's id as the server shows it).</param>
/// <param name="Database">The named database it was found on.</param>
/// <param name="Branch">The branch qualifier within the transaction.</param>
/// <param name="Action">What was done.</param>
/// <param name="Detail">Why, in plain words.</param>
public sealed record RecoveryAction(string TransactionId, string Database, string Branch, RecoveryActionKind Action, string Detail)
{
    /// <summary>
    /// For a <see cref="RecoveryActionKind.Foreign"/> branch that Switchboard prepared under another log: that log's id.
    /// Recovery run without the application's own log (from the wrong folder, say) sees the application's branches so.
    /// </summary>
    public string? OtherLogId { get; init; }
}

/// <summary>A database recovery could not look at.</summary>
public sealed record RecoveryProblem(string Database, string Message);

/// <summary>The result of a recovery pass: every prepared branch found, what was done, and what could not be looked at.</summary>
public sealed class RecoveryReport
{
    internal RecoveryReport(string logLocation, string? logId, bool dryRun, IReadOnlyList<RecoveryAction> actions, IReadOnlyList<RecoveryProblem> problems,
        int forgottenDecisions)
    {
        LogLocation = logLocation;
        LogId = logId;
        DryRun = dryRun;
        Actions = actions;
        Problems = problems;
        ForgottenDecisions = forgottenDecisions;
    }

    /// <summary>Where the coordinator log is (or was looked for).</summary>
    public string LogLocation { get; }

    /// <summary>The log's id (the part of transaction ids that marks them as this coordinator's); null when no log was found.</summary>
    public string? LogId { get; }

    public bool LogFound => LogId is not null;

    public bool DryRun { get; }

    public IReadOnlyList<RecoveryAction> Actions { get; }

    public IReadOnlyList<RecoveryProblem> Problems { get; }

    /// <summary>Decisions of finished transactions removed from the log (or, in a dry run, that would be).</summary>
    public int ForgottenDecisions { get; }

    /// <summary>Whether nothing of this coordinator is left in doubt: every database was reachable and every branch settled.</summary>
    public bool IsComplete => Problems.Count == 0 && Actions.All(a => a.Action is RecoveryActionKind.Committed or RecoveryActionKind.RolledBack or RecoveryActionKind.Foreign);

    /// <summary>One line for logs: what was done, and whether anything is left.</summary>
    public override string ToString() =>
        $"Recovery{(DryRun ? " (dry run)" : "")} of log {LogId ?? "(none)"}: "
        + string.Join(", ", Actions.GroupBy(a => a.Action).Select(g => $"{g.Count()} {g.Key}"))
        + (Actions.Count == 0 ? "nothing found" : "")
        + (Problems.Count > 0 ? $"; {Problems.Count} database(s) could not be read ({string.Join(", ", Problems.Select(p => p.Database).Distinct())})" : "")
        + (IsComplete ? "; complete" : "; something is left");
}
