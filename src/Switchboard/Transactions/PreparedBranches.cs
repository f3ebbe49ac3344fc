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
}

/// <summary>What became of a request to commit or roll back a prepared branch.</summary>
internal enum BranchCompletion
{
    Done,
    NotFound,
    Attached,
}
