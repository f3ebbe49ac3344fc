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

    // MySql.Data does send KILL QUERY when a command's token is cancelled: a second KILL of ours would race with it.
    public override bool StopsCancelledStatements => true;

    public override TimeSpan DriverCommandTimeout(TimeSpan commandTimeout) => commandTimeout + DriverTimeoutMargin;

    /// <summary>
    /// Cancelling the token sends <c>KILL QUERY</c> for the connection's server thread, over a connection of its own (a
    /// clone with the same settings, not pooled, outside the per-server open queue: a full pool or a queued open must not
    /// hold it up): the statement ends with "query execution was interrupted", and the connection stays open for the
    /// rollback. Disposing (when the statement has ended) stops a KILL not yet sent, waits for one being sent, and after a
    /// KILL keeps the connection out of the pool: on MySQL a KILL QUERY that arrives after its statement ended stops the
    /// connection's next statement instead.
    /// </summary>
    public override IDisposable? InterruptOnCancel(DbConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return cancellationToken.CanBeCanceled && connection.State == System.Data.ConnectionState.Open && connection is ICloneable
            && _driver.ServerThreadId(connection) is { } thread
            ? new QueryKiller(this, connection, thread, cancellationToken)
            : null;
    }

    private sealed class QueryKiller : IDisposable
    {
        private readonly MySqlDialect _dialect;
        private readonly DbConnection _connection;
        private readonly int _thread;
        private readonly CancellationTokenRegistration _registration;
        private readonly object _lock = new(); // Monitor.Wait/PulseAll need a monitor lock
        private bool _done;
        private bool _sending;
        private bool _sent;

        public QueryKiller(MySqlDialect dialect, DbConnection connection, int thread, CancellationToken cancellationToken)
        {
            (_dialect, _connection, _thread) = (dialect, connection, thread);
            _registration = cancellationToken.Register(static state => _ = Task.Run(((QueryKiller)state!).Kill), this);
        }

        private void Kill()
        {
            try
            {
                // The clone carries the password (it was never opened); its own connection string turns pooling off.
                using var killer = (DbConnection)((ICloneable)_connection).Clone();
                var settings = new DbConnectionStringBuilder { ConnectionString = killer.ConnectionString };
                settings["Pooling"] = "false";
                settings["Connection Timeout"] = ((int)KillWait.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                killer.ConnectionString = settings.ConnectionString;
                killer.Open();
                using var command = killer.CreateCommand();
                command.CommandText = "KILL QUERY " + _thread.ToString(CultureInfo.InvariantCulture);
                command.CommandTimeout = (int)KillWait.TotalSeconds;
                lock (_lock)
                {
                    if (_done)
                    {
                        return; // the statement ended first: a late KILL could stop the connection's next one
                    }

                    _sending = true;
                }

                try
                {
                    command.ExecuteNonQuery();
                    _sent = true;
                }
                finally
                {
                    lock (_lock)
                    {
                        _sending = false;
                        Monitor.PulseAll(_lock);
                    }
                }
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException or IOException or ArgumentException)
            {
                // The server cannot be reached: the driver's own timeout (the backstop) ends the statement.
            }
        }

        public void Dispose()
        {
            _registration.Dispose();
            lock (_lock)
            {
                _done = true;
                var deadline = Environment.TickCount64 + (long)KillWait.TotalMilliseconds;
                while (_sending && Environment.TickCount64 < deadline)
                {
                    Monitor.Wait(_lock, TimeSpan.FromMilliseconds(Math.Max(1, deadline - Environment.TickCount64)));
                }

                if (_sent || _sending)
                {
                    _dialect.ClearPool(_connection);
                }
            }
        }
    }
}
