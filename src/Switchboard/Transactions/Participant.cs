using System.Data;
using System.Data.Common;
using Switchboard.Dialects;
using Switchboard.Internal;

namespace Switchboard.Transactions;

/// <summary>Where one participant's branch stands in the protocol.</summary>
internal enum BranchState
{
    NotBegun,
    Active,
    Prepared,

    /// <summary>PREPARE failed: not prepared, unless the connection was lost while it ran (then <see cref="Participant.MaybePrepared"/>).</summary>
    PrepareFailed,
    Committed,
    RolledBack,
    InDoubt,
    Unknown,
}

/// <summary>One database's branch of a distributed transaction: its session, connection and state.</summary>
internal sealed class Participant(int index, DatabaseEngine engine, bool prepares, TransactionBranch branch)
{
    public int Index { get; } = index;

    public DatabaseEngine Engine { get; } = engine;

    public string Database => Engine.Name;

    public Dialect Dialect => Engine.Dialect;

    /// <summary>Whether the branch is prepared (else it commits in one phase: the last resource, best effort, or the only participant).</summary>
    public bool Prepares { get; } = prepares;

    /// <summary>Whether the branch was begun with the dialect's two-phase verbs (an XA branch on MySQL).</summary>
    public bool IsBranch { get; set; }

    public TransactionBranch Branch { get; } = branch;

    public DatabaseSession? Session { get; set; }

    public DbConnection? Connection { get; set; }

    public DbTransaction? Transaction { get; set; }

    public BranchState State { get; set; }

    /// <summary>The connection was lost while PREPARE ran, so the branch may be prepared.</summary>
    public bool MaybePrepared { get; set; }

    /// <summary>The server's id of the branch's session, as the driver reported it at begin (a hint: see <see cref="Dialect.EndPreparingSessionsAsync"/>).</summary>
    public long? SessionHint { get; set; }

    /// <summary>What went wrong, wrapped so that it names the database and holds no secret.</summary>
    public DatabaseCommandException? Error { get; private set; }

    public DatabaseCommandException Fail(string operation, Exception exception)
    {
        Error = exception as DatabaseCommandException
            ?? new DatabaseCommandException(Database, operation, Dialect.Classify(exception), exception, Engine.Definition.Secrets, Engine.Definition.Target);
        return Error;
    }

    /// <summary>
    /// As <see cref="Fail(string, Exception)"/>, for an operation the server refused because it had rolled this database's
    /// part back when <paramref name="rolledBackBy"/> failed earlier (MySQL after a deadlock: "XAER_RMFAIL … ROLLBACK ONLY
    /// state"; PostgreSQL after any error). Says so, and takes that failure's kind when it was a deadlock, a serialization
    /// failure or a timeout, so that the rollback reads as retryable. The driver's exception stays the inner exception.
    /// </summary>
    public DatabaseCommandException Fail(string operation, Exception exception, DatabaseCommandException? rolledBackBy)
    {
        if (rolledBackBy is null || exception is DatabaseCommandException)
        {
            return Fail(operation, exception);
        }

        var kind = rolledBackBy.Kind is DatabaseErrorKind.Deadlock or DatabaseErrorKind.SerializationFailure or DatabaseErrorKind.Timeout
            ? rolledBackBy.Kind
            : Dialect.Classify(exception);
        var earlier = rolledBackBy.InnerException?.Message ?? rolledBackBy.Message;
        Error = new DatabaseCommandException(Database,
            $"{operation}, after a statement failed here earlier in the transaction ({earlier}) and the server rolled this database's part back,",
            kind, exception, Engine.Definition.Secrets, Engine.Definition.Target);
        return Error;
    }

    /// <summary>The first statement that failed in this branch (through the session's helpers), if any.</summary>
    public DatabaseCommandException? EarlierFailure { get; set; }

    /// <summary>Whether an error leaves the branch's state unknown: the connection is gone, or the statement timed out.</summary>
    public bool ConnectionLost(Exception exception) =>
        Connection?.State is not ConnectionState.Open
        || (exception is DatabaseCommandException wrapped ? wrapped.Kind : Dialect.Classify(exception)) is DatabaseErrorKind.ConnectionLost or DatabaseErrorKind.Timeout;

    public ParticipantResult ToResult() => new(Database, State switch
    {
        BranchState.Committed => ParticipantOutcome.Committed,
        BranchState.InDoubt => ParticipantOutcome.InDoubt,
        BranchState.Unknown => ParticipantOutcome.Unknown,
        _ => ParticipantOutcome.RolledBack,
    }, Error?.Message);

    /// <summary>A connection to run a verb on: the branch's own while it is open, else a fresh one from the pool.</summary>
    public async ValueTask<(DbConnection Connection, bool Fresh)> ConnectionForAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        if (Connection is { State: ConnectionState.Open } open)
        {
            return (open, false);
        }

        return (await Engine.OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false), true);
    }

    /// <summary>Returns the connection to the pool; a connection whose state is uncertain is discarded with its pool's idle connections.</summary>
    public async ValueTask ReleaseAsync(IOBehavior io, bool discard)
    {
        var connection = Connection;
        var transaction = Transaction;
        Connection = null;
        Transaction = null;
        if (connection is null)
        {
            return;
        }

        try
        {
            if (transaction is not null)
            {
                if (io == IOBehavior.Synchronous)
                {
                    transaction.Dispose();
                }
                else
                {
                    await transaction.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException)
        {
            discard = true;
        }

        try
        {
            if (discard)
            {
                Dialect.ClearPool(connection);
                if (connection.State == ConnectionState.Open)
                {
                    await Dialect.EndSessionAsync(connection, io == IOBehavior.Asynchronous, CancellationToken.None).ConfigureAwait(false);
                }
            }

            await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException)
        {
            // A driver may throw while closing a connection whose session has ended (MySql.Data tries a ROLLBACK first);
            // the connection is closed by then.
        }
    }
}
