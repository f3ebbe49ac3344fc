using System.Data.Common;
using Switchboard.Dialects;
using Switchboard.Internal;

namespace Switchboard.Transactions;

/// <summary>Phase two on one prepared branch, shared by the coordinator, the background retry and recovery.</summary>
internal static class PreparedBranches
{
    /// <summary>
    /// Commits or rolls back a prepared branch. Returns true when it is complete (now, or earlier by someone else); false
    /// when the server does not let this session finish it yet (MySQL: still attached to a live session elsewhere).
    /// </summary>
    public static async ValueTask<bool> CompleteAsync(Dialect dialect, DbConnection connection, TransactionBranch branch, bool commit, IOBehavior io,
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

            return true;
        }
        catch (Exception e) when (dialect.IsUnknownBranch(e))
        {
            // Unknown to this session: gone, unless the server still lists it.
            var listed = await dialect.ListPreparedAsync(connection, async, cancellationToken).ConfigureAwait(false);
            return !listed.Any(b => b.Branch == branch);
        }
    }
}
