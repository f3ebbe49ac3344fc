namespace Switchboard.Internal;

/// <summary>Timer bounds: a <see cref="CancellationTokenSource"/> takes at most about 49.7 days.</summary>
internal static class Timers
{
    private static readonly TimeSpan Longest = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>A timeout a timer can take: beyond its range, no timeout at all (nobody waits 50 days for a statement).</summary>
    public static TimeSpan Clamp(TimeSpan timeout) => timeout > Longest ? Timeout.InfiniteTimeSpan : timeout;
}
