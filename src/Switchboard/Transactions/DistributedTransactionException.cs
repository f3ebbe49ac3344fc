using System.Text;

namespace Switchboard;

/// <summary>What became of a distributed transaction as a whole.</summary>
public enum DistributedOutcome
{
    /// <summary>Committed: every participant has committed, or will (see <see cref="ParticipantOutcome.InDoubt"/>).</summary>
    Committed,

    /// <summary>Rolled back: no participant has committed, and any still prepared will be rolled back.</summary>
    RolledBack,

    /// <summary>
    /// Some participants committed and others did not: best-effort mode, or — a broken guarantee, reported as such — a
    /// two-phase commit whose prepared branch someone else rolled back (another process's recovery that took this one for ended).
    /// </summary>
    Partial,

    /// <summary>The decision itself could not be read back (the last resource failed while committing); recovery settles it from that database.</summary>
    InDoubt,
}

/// <summary>What became of one participant.</summary>
public enum ParticipantOutcome
{
    Committed,
    RolledBack,

    /// <summary>Prepared and not yet told the outcome (unreachable): the background retry, or recovery, brings it to the transaction's outcome.</summary>
    InDoubt,

    /// <summary>Best-effort mode only: the connection was lost while it committed, so only the database knows whether it did.</summary>
    Unknown,
}

/// <summary>One database's part in a distributed transaction's outcome.</summary>
/// <param name="Database">The named database.</param>
/// <param name="Outcome">What became of its work.</param>
/// <param name="Error">Why it did not simply follow the transaction's outcome, with secrets masked; null when all went well.</param>
public sealed record ParticipantResult(string Database, ParticipantOutcome Outcome, string? Error)
{
    public override string ToString() => Error is null ? $"{Database}: {Describe(Outcome)}" : $"{Database}: {Describe(Outcome)} ({Error})";

    internal static string Describe(ParticipantOutcome outcome) => outcome switch
    {
        ParticipantOutcome.Committed => "committed",
        ParticipantOutcome.RolledBack => "rolled back",
        ParticipantOutcome.InDoubt => "in doubt",
        _ => "unknown",
    };
}

/// <summary>
/// A distributed transaction did not simply commit. <see cref="Outcome"/> says what the transaction as a whole became and
/// <see cref="Participants"/> says it for every database, so the caller never has to guess: after a failure in phase one
/// everything is rolled back; after the commit decision, a database that could not be reached is <c>InDoubt</c> and will
/// be committed by the background retry or by recovery.
/// </summary>
public sealed class DistributedTransactionException : SwitchboardException
{
    internal DistributedTransactionException(string transactionId, DistributedOutcome outcome, IReadOnlyList<ParticipantResult> participants,
        string reason, Exception? innerException, IReadOnlyList<string>? secrets)
        : base(BuildMessage(transactionId, outcome, participants, reason), participants.FirstOrDefault(p => p.Error is not null)?.Database,
            innerException, secrets)
    {
        TransactionId = transactionId;
        Outcome = outcome;
        Participants = participants;
    }

    /// <summary>The global transaction id, as it appears in <c>pg_prepared_xacts</c>, <c>XA RECOVER</c> and the recovery report.</summary>
    public string TransactionId { get; }

    public DistributedOutcome Outcome { get; }

    public IReadOnlyList<ParticipantResult> Participants { get; }

    /// <summary>Whether the same work may succeed if tried again: only when everything was rolled back for a transient reason.</summary>
    public override bool IsTransient => Outcome == DistributedOutcome.RolledBack && base.IsTransient;

    private static string BuildMessage(string id, DistributedOutcome outcome, IReadOnlyList<ParticipantResult> participants, string reason)
    {
        var sb = new StringBuilder();
        sb.Append(outcome switch
        {
            DistributedOutcome.Committed => $"Distributed transaction {id} is committed, but not every database has been told yet: {reason}.",
            DistributedOutcome.RolledBack => $"Distributed transaction {id} was rolled back: {reason}.",
            DistributedOutcome.Partial => $"Distributed transaction {id} committed only in part: {reason}.",
            _ => $"Distributed transaction {id} is in doubt: {reason}.",
        });
        foreach (var p in participants)
        {
            sb.AppendLine().Append("  - ").Append(p.Database).Append(": ").Append(p.Outcome switch
            {
                ParticipantOutcome.InDoubt when outcome == DistributedOutcome.Committed =>
                    "in doubt: prepared; will be committed when it can be reached (background retry, or switchboard recover)",
                ParticipantOutcome.InDoubt when outcome == DistributedOutcome.RolledBack =>
                    // Prepared and not reachable for the rollback, or a PREPARE whose outcome is unknown.
                    "in doubt: may be prepared; will be rolled back when it can be reached (background retry, or switchboard recover)",
                ParticipantOutcome.InDoubt => "in doubt: recovery settles it from the last resource's decision",
                ParticipantOutcome.Unknown => "unknown: the connection was lost while committing; only the database knows",
                var o => ParticipantResult.Describe(o),
            });
            if (p.Error is not null)
            {
                sb.Append(" — ").Append(p.Error);
            }
        }

        return sb.ToString();
    }
}

/// <summary>
/// A distributed transaction cannot begin because a participant cannot take part in two-phase commit (a server not set up
/// for it, a user without the rights, or more than one database that cannot prepare). Raised before any work is done.
/// </summary>
public sealed class TwoPhaseCommitUnavailableException : SwitchboardException
{
    /// <param name="problems">Each database and what stops it.</param>
    /// <param name="advice">What to do, when it is the same for every database (said once, after the list).</param>
    internal TwoPhaseCommitUnavailableException(IReadOnlyList<KeyValuePair<string, string>> problems, string? advice = null)
        : base(BuildMessage(problems, advice), problems[0].Key, null, null)
    {
        Problems = problems;
    }

    /// <summary>Each database that cannot take part, with the reason.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Problems { get; }

    private static string BuildMessage(IReadOnlyList<KeyValuePair<string, string>> problems, string? advice)
    {
        var list = problems.Count == 1
            ? $"Cannot begin a distributed transaction: database '{problems[0].Key}' {problems[0].Value}."
            : "Cannot begin a distributed transaction:" + string.Concat(problems.Select(p => $"{Environment.NewLine}  - database '{p.Key}' {p.Value}"));
        return advice is null ? list : list + (problems.Count == 1 ? " " : Environment.NewLine) + advice + ".";
    }
}
