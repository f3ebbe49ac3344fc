using System.Data.Common;
using System.Globalization;

namespace Switchboard.MySql;

public sealed partial class MySqlDialect
{
    // How much later than the session's command timeout the driver's own timeout fires: a backstop for when the
    // KILL QUERY cannot reach the server (a server that answers nothing at all).
    private static readonly TimeSpan DriverTimeoutMargin = TimeSpan.FromSeconds(5);

    // How long releasing a statement waits for a KILL QUERY still on its way, so that it cannot reach a later statement.
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// MySql.Data ends a statement at its command timeout by closing the connection, without telling the server: the
    /// statement runs on there (a heavy query to its end), and the transaction is gone with the connection. Sessions stop
    /// it themselves instead (<see cref="InterruptOnCancel"/>), and the driver's timeout stays as a backstop.
    /// </summary>
    public override bool StopsRunningStatements => false;

    public override TimeSpan DriverCommandTimeout(TimeSpan commandTimeout) => commandTimeout + DriverTimeoutMargin;

    /// <summary>
    /// Cancelling the token sends <c>KILL QUERY</c> for the connection's server thread, over a second connection with
    /// the same settings (a clone): the statement ends with "query execution was interrupted", and the connection and
    /// its transaction stay usable. Disposing waits briefly for a KILL still on its way.
    /// </summary>
    public override IDisposable? InterruptOnCancel(DbConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return cancellationToken.CanBeCanceled && connection is ICloneable cloneable && _driver.ServerThreadId(connection) is { } thread
            ? new QueryKiller(this, cloneable, thread, cancellationToken)
            : null;
    }

    private sealed class QueryKiller : IDisposable
    {
        private readonly MySqlDialect _dialect;
        private readonly ICloneable _connection;
        private readonly int _thread;
        private readonly CancellationTokenRegistration _registration;
        private Task? _kill;

        public QueryKiller(MySqlDialect dialect, ICloneable connection, int thread, CancellationToken cancellationToken)
        {
            (_dialect, _connection, _thread) = (dialect, connection, thread);
            _registration = cancellationToken.Register(static state =>
            {
                var killer = (QueryKiller)state!;
                killer._kill = Task.Run(killer.KillAsync);
            }, this);
        }

        private async Task KillAsync()
        {
            using var timeout = new CancellationTokenSource(KillWait);
            var killer = (DbConnection)_connection.Clone();
            await using (killer.ConfigureAwait(false))
            {
                try
                {
                    await _dialect.OpenAsync(killer, async: true, timeout.Token).ConfigureAwait(false);
                    using var command = killer.CreateCommand();
                    command.CommandText = "KILL QUERY " + _thread.ToString(CultureInfo.InvariantCulture);
                    command.CommandTimeout = (int)KillWait.TotalSeconds;
                    await command.ExecuteNonQueryAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is DbException or OperationCanceledException or InvalidOperationException or TimeoutException or IOException)
                {
                    // The server cannot be reached: the driver's own timeout (the backstop) ends the statement.
                }
            }
        }

        public void Dispose()
        {
            // Unregistering waits for a callback that is running, so _kill is set by now if the token fired.
            _registration.Dispose();
            if (_kill is { } kill)
            {
                kill.Wait(KillWait);
            }
        }
    }
}
