using System.Data;
using System.Data.Common;
using Polly;

namespace Switchboard.Routing;

/// <summary>
/// One host of a replicated database: its own driver pool (built from a single-host connection string by the dialect),
/// its circuit breaker, and a count of connections checked out from it. Lives as long as the engine; its state (role,
/// lag, breaker) is in the current <see cref="TopologySnapshot"/>.
/// </summary>
internal sealed class HostEndpoint
{
    /// <summary>Connections checked out from this host right now (read by <see cref="ReadPolicy.LeastOutstanding"/>).</summary>
    public int Outstanding;

    /// <summary>Connection failures since the last successful open (the circuit breaker opens at the threshold).</summary>
    public int ConsecutiveFailures;

    private readonly StateChangeEventHandler _onStateChange;
    private long _poolClears;

    public HostEndpoint(int index, DatabaseDefinition definition, HostRole configuredRole)
    {
        Index = index;
        Definition = definition;
        ConfiguredRole = configuredRole;
        DataSource = definition.Dialect.CreateDataSource(definition);
        _onStateChange = OnStateChange;
    }

    public int Index { get; }

    /// <summary>The database's definition with this host's single-host connection settings.</summary>
    public DatabaseDefinition Definition { get; }

    public string Target => Definition.Target;

    public HostRole ConfiguredRole { get; }

    /// <summary>The pool sessions use.</summary>
    public DbDataSource DataSource { get; }

    /// <summary>Polly circuit breaker around opening a connection to this host.</summary>
    public ResiliencePipeline Breaker { get; set; } = ResiliencePipeline.Empty;

    public long PoolClears => Interlocked.Read(ref _poolClears);

    /// <summary>Counts a checked-out connection until it is closed.</summary>
    public void Attach(DbConnection connection)
    {
        Interlocked.Increment(ref Outstanding);
        connection.StateChange += _onStateChange;
    }

    /// <summary>Purges the pool: idle connections close now, connections in use are discarded when returned.</summary>
    public void ClearPool()
    {
        Interlocked.Increment(ref _poolClears);
        try
        {
            Definition.Dialect.ClearPool(DataSource);
        }
        catch (ObjectDisposedException)
        {
            // The engine is being disposed: its pools are closing anyway.
        }
    }

    private void OnStateChange(object sender, StateChangeEventArgs e)
    {
        if (e.OriginalState == ConnectionState.Open && e.CurrentState is ConnectionState.Closed or ConnectionState.Broken)
        {
            ((DbConnection)sender).StateChange -= _onStateChange;
            Interlocked.Decrement(ref Outstanding);
        }
    }

    public override string ToString() => Target;
}
