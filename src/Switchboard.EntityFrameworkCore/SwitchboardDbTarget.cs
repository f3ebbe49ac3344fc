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

    /// <summary>The engine serving this intent (today the database's only engine; a replica once routing exists).</summary>
    public DatabaseEngine Engine { get; }

    /// <summary>The driver's pooled data source of <see cref="Engine"/>, shared with Switchboard sessions.</summary>
    public DbDataSource DataSource => Engine.DataSource;

    public Dialect Dialect => Engine.Dialect;

    public override string ToString() => $"{Database} ({Intent})";
}
