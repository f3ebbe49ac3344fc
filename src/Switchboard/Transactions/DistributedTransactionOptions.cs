using System.Data;

namespace Switchboard;

/// <summary>How a distributed transaction commits.</summary>
public enum DistributedTransactionMode
{
    /// <summary>
    /// All or nothing, even across a crash: every participant prepares, the decision is made durable, then every
    /// participant commits. At most one participant that cannot prepare (SQLite, or <c>"TwoPhaseCommit": false</c>) may
    /// join, as the last resource. The default.
    /// </summary>
    TwoPhaseCommit,

    /// <summary>
    /// For databases that cannot prepare: one-phase commits, one database after another in the order given. A failure part
    /// way leaves the earlier databases committed and the later ones rolled back, and the exception says which.
    /// </summary>
    BestEffort,
}

/// <summary>Options of one distributed transaction. Immutable.</summary>
public sealed record DistributedTransactionOptions
{
    public static DistributedTransactionOptions Default { get; } = new();

    public static DistributedTransactionOptions BestEffort { get; } = new() { Mode = DistributedTransactionMode.BestEffort };

    public DistributedTransactionMode Mode { get; init; } = DistributedTransactionMode.TwoPhaseCommit;

    /// <summary>The isolation level of every participant's transaction; <see cref="IsolationLevel.Unspecified"/> keeps each server's default.</summary>
    public IsolationLevel IsolationLevel { get; init; } = IsolationLevel.Unspecified;

    /// <summary>Overrides each database's default command timeout for the sessions' helper methods.</summary>
    public TimeSpan? CommandTimeout { get; init; }

    /// <summary>
    /// Two-phase mode: return from commit as soon as the commit decision is durable, and tell the prepared participants in
    /// the background. The transaction is committed when commit returns — no crash can undo it — but for a moment another
    /// connection may not see its changes yet on some databases, and writes to the same rows wait until they are told.
    /// Saves the last round of durable writes from the caller's latency. Default false: commit returns once every
    /// participant has committed (or throws saying which could not be told).
    /// </summary>
    public bool CompleteInBackground { get; init; }
}
