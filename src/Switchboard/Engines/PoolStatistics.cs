namespace Switchboard;

/// <summary>A snapshot of one engine's pool, as counted by Switchboard's checkout gate.</summary>
/// <param name="MaxSize">Most connections that may be checked out at once.</param>
/// <param name="InUse">Connections checked out right now.</param>
/// <param name="Waiting">Callers waiting for a connection right now.</param>
/// <param name="TotalCheckouts">Connections handed out since the engine started.</param>
/// <param name="Timeouts">Checkouts that gave up after the checkout timeout.</param>
/// <param name="ConnectFailures">Checkouts that failed because the server could not be reached.</param>
public readonly record struct PoolStatistics(int MaxSize, int InUse, int Waiting, long TotalCheckouts, long Timeouts, long ConnectFailures)
{
    /// <summary>Connections that can be checked out without waiting.</summary>
    public int Available => MaxSize - InUse;

    public override string ToString() => $"{InUse}/{MaxSize} in use, {Waiting} waiting";
}
