namespace Switchboard.Transactions;

/// <summary>
/// Named points of the commit protocol where a crash test makes the coordinator die (<see cref="Environment.FailFast(string)"/>)
/// or stop dead. Set through <see cref="TransactionCoordinatorOptions"/> by tests and the crash harness only; when no handler
/// is set, each point costs one null check.
/// </summary>
internal enum FaultPoint
{
    /// <summary>Participant k has prepared (phase one is still running on the others).</summary>
    AfterPrepare,

    /// <summary>Every participant that can prepare has; the decision is not yet durable.</summary>
    BeforeDecision,

    /// <summary>The commit decision is durable (in the log, or the last resource has committed); no prepared branch is committed yet.</summary>
    AfterDecision,

    /// <summary>Participant k has committed its prepared branch.</summary>
    AfterCommit,

    /// <summary>Participant k has been rolled back while aborting.</summary>
    AfterRollback,

    /// <summary>Recovery has decided what to do with a transaction (and recorded a presumed abort), before touching any branch.</summary>
    RecoveryAfterDecision,

    /// <summary>Recovery has completed one branch.</summary>
    RecoveryAfterBranch,
}

/// <summary>Called at each <see cref="FaultPoint"/>; <paramref name="participant"/> is the participant's position, or -1.</summary>
internal delegate void FaultHandler(FaultPoint point, int participant);
