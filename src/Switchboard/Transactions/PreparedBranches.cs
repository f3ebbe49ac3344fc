using System.Data.Common;
using Switchboard.Dialects;
using Switchboard.Internal;

namespace Switchboard.Transactions;

/// <summary>Phase two on one prepared branch, shared by the coordinator, the background retry and recovery.</summary>
internal static class PreparedBranches
{
    /// <summary>
    /// Commits or rolls back a prepared branch: <see cref="BranchCompletion.Done"/> now; <see cref="BranchCompletion.NotFound"/>
    /// when the server knows no such prepared branch (finished by someone else, or never prepared — or, while the session
    /// that prepares it may still be running, not yet prepared); <see cref="BranchCompletion.Attached"/> when the server
    /// does not let this session finish it yet (MySQL: still attached to a live session elsewhere).
    /// </summary>
    public static async ValueTask<BranchCompletion> CompleteAsync(Dialect dialect, DbConnection connection, TransactionBranch branch, bool commit, IOBehavior io,
        CancellationToken cancellationToken)
    {
        var async = io == IOBehavior.Asynchronous;
        try
        {
            if (commit)
            {
                await dialect.CommitPreparedAsync(connection, branch, async, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await dialect.RollbackPreparedAsync(connection, branch, async, cancellationToken).ConfigureAwait(false);
            }

            return BranchCompletion.Done;
        }
        catch (Exception e) when (dialect.IsUnknownBranch(e))
        {
            // Unknown to this session: gone, unless the server still lists it.
            var listed = await dialect.ListPreparedAsync(connection, async, cancellationToken).ConfigureAwait(false);
            return listed.Any(b => b.Branch == branch) ? BranchCompletion.Attached : BranchCompletion.NotFound;
        }
    }

    /// <summary>
    /// <see cref="CompleteAsync(Dialect, DbConnection, TransactionBranch, bool, IOBehavior, CancellationToken)"/>; and if the
    /// branch is still attached to its own server session (<paramref name="sessionHint"/>, whose client is gone), ends that
    /// session and tries once more.
    /// </summary>
    public static async ValueTask<BranchCompletion> CompleteAsync(Dialect dialect, DbConnection connection, TransactionBranch branch, bool commit,
        long? sessionHint, IOBehavior io, CancellationToken cancellationToken)
    {
        var completion = await CompleteAsync(dialect, connection, branch, commit, io, cancellationToken).ConfigureAwait(false);
        if (completion == BranchCompletion.Attached && sessionHint is { } hint && await EndAttachedSessionQuietlyAsync(dialect, connection, hint, io).ConfigureAwait(false))
        {
            completion = await CompleteAsync(dialect, connection, branch, commit, io, cancellationToken).ConfigureAwait(false);
        }

        return completion;
    }

    /// <summary>Ends the sessions still running a lost PREPARE of a branch; false when that cannot be done or confirmed.</summary>
    public static async ValueTask<bool> EndPreparingSessionsQuietlyAsync(Dialect dialect, DbConnection connection, TransactionBranch branch, IOBehavior io)
    {
        try
        {
            return await dialect.EndPreparingSessionsAsync(connection, branch, io == IOBehavior.Asynchronous, CancellationToken.None).ConfigureAwait(false);
        }
        catch (DbException)
        {
            return false; // not allowed to look or to end them, say: the branch stays in doubt
        }
    }

    /// <summary>Whether a branch's commit record is visible: a branch no longer prepared has committed if so, else rolled back.</summary>
    public static async ValueTask<bool> CommitRecordVisibleAsync(Dialect dialect, DbConnection connection, TransactionBranch branch, IOBehavior io) =>
        await CoordinatorLog.QueryFirstAsync<string>(connection, null, dialect.TransactionTables.SelectDecision, new { gtid = branch.ToString() }, io,
            CancellationToken.None).ConfigureAwait(false) == "C";

    // Ends the server session a prepared branch is still attached to (its own, whose connection is gone); false if it cannot.
    private static async ValueTask<bool> EndAttachedSessionQuietlyAsync(Dialect dialect, DbConnection connection, long sessionHint, IOBehavior io)
    {
        try
        {
            return await dialect.EndAttachedSessionAsync(connection, sessionHint, io == IOBehavior.Asynchronous, CancellationToken.None).ConfigureAwait(false);
        }
        catch (DbException)
        {
            return false;
        }
    }
}

/// <summary>What became of a request to commit or roll back a prepared branch.</summary>
internal enum BranchCompletion
{
    Done,
    NotFound,
    Attached,
}
