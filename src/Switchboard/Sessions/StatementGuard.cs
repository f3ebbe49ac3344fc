using System.Data.Common;
using Switchboard.Dialects;

namespace Switchboard;

/// <summary>
/// The command timeout and the caller's cancellation for one statement, on a driver that does not stop a running
/// statement itself (<see cref="Dialect.StopsRunningStatements"/> false: SQLite checks neither between its steps; MySql.Data
/// closes the connection at its timeout). Both interrupt the statement through <see cref="Dialect.InterruptOnCancel"/>, the
/// cancellation only where the driver does not act on it (<see cref="Dialect.StopsCancelledStatements"/>). Dispose before
/// the connection is used again.
/// </summary>
internal sealed class StatementGuard : IDisposable
{
    private readonly CancellationTokenSource _deadline;
    private readonly IDisposable? _onDeadline;
    private readonly IDisposable? _onCancel;

    private StatementGuard(Dialect dialect, DbConnection connection, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _deadline = new CancellationTokenSource(Internal.Timers.Clamp(timeout));
        _onDeadline = dialect.InterruptOnCancel(connection, _deadline.Token);
        _onCancel = dialect.StopsCancelledStatements ? null : dialect.InterruptOnCancel(connection, cancellationToken);
    }

    /// <summary>A guard for drivers that need one, else null (they honour their command timeout and token themselves).</summary>
    public static StatementGuard? Start(Dialect dialect, DbConnection connection, TimeSpan timeout, CancellationToken cancellationToken) =>
        dialect.StopsRunningStatements ? null : new StatementGuard(dialect, connection, timeout, cancellationToken);

    /// <summary>Whether the statement ran past its command timeout (and was interrupted for it).</summary>
    public bool TimedOut => _deadline.IsCancellationRequested;

    /// <summary>Stops the command timeout from interrupting the statement (a fan-out's shard has answered: from then on it waits for its reader).</summary>
    public void StopDeadline() => _deadline.CancelAfter(Timeout.InfiniteTimeSpan);

    /// <summary>What a statement interrupted at its command timeout reports: a timeout, with the driver's error inside.</summary>
    public static TimeoutException TimedOutError(TimeSpan timeout, Exception? interrupted) =>
        new($"The statement ran longer than the command timeout ({timeout.TotalSeconds:0.###} s) and was interrupted.", interrupted);

    public void Dispose()
    {
        // The registrations first, so that no interrupt can reach a later statement on this connection.
        _onCancel?.Dispose();
        _onDeadline?.Dispose();
        _deadline.Dispose();
    }
}
