using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Switchboard.Sqlite;

public sealed partial class SqliteDialect
{
    /// <summary>Microsoft.Data.Sqlite's command timeout is a busy timeout (waiting for a lock), not a limit on running.</summary>
    public override bool StopsRunningStatements => false;

    /// <summary>
    /// Microsoft.Data.Sqlite checks a cancellation token only between steps, so a long statement would run to its end:
    /// <c>sqlite3_interrupt</c> stops it at its next opportunity. Once no statement runs, the interrupt is forgotten.
    /// </summary>
    public override IDisposable? InterruptOnCancel(DbConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return cancellationToken.CanBeCanceled
            ? cancellationToken.Register(static c => SQLitePCL.raw.sqlite3_interrupt(((SqliteConnection)c!).Handle), connection)
            : null;
    }
}
