using System.Data.Common;
using Switchboard.Dialects;

namespace Switchboard.EntityFrameworkCore;

/// <summary>
/// Where a context's connections come from: a named database, the intent it was asked for, and the engine chosen for
/// that intent. Given to <see cref="SwitchboardDbContextOptions.UseProvider"/> and
/// <see cref="SwitchboardDbContextOptions.ConfigureContext"/>.
/// </summary>
public sealed class SwitchboardDbTarget
{
    internal SwitchboardDbTarget(string database, SessionIntent intent, DatabaseEngine engine)
    {
        Database = database;
        Intent = intent;
        Engine = engine;
    }

    /// <summary>The configured database name.</summary>
    public string Database { get; }

    /// <summary>What the contexts created for this target intend to do.</summary>
    public SessionIntent Intent { get; }

    /// <summary>The database's engine.</summary>
    public DatabaseEngine Engine { get; }

    /// <summary>
    /// Where this intent's connections come from, pooled with Switchboard sessions: for <see cref="SessionIntent.ReadOnly"/>
    /// <see cref="DatabaseEngine.ReadOnlyDataSource"/> (on a replicated database each connection goes to a replica the read
    /// policy picks), otherwise <see cref="DatabaseEngine.DataSource"/> (the primary, following failover).
    /// </summary>
    public DbDataSource DataSource => Intent == SessionIntent.ReadOnly ? Engine.ReadOnlyDataSource : Engine.DataSource;

    public Dialect Dialect => Engine.Dialect;

    public override string ToString() => $"{Database} ({Intent})";
}
