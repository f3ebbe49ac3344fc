namespace Switchboard.Internal;

/// <summary>
/// Whether an operation runs its I/O synchronously or asynchronously. Every operation has one
/// <c>ValueTask</c> body; the synchronous public method passes <see cref="Synchronous"/> and the
/// body calls the driver's blocking APIs, so the returned task is already complete (MySqlConnector's pattern).
/// </summary>
internal enum IOBehavior
{
    Synchronous,
    Asynchronous,
}

internal static class ValueTaskExtensions
{
    /// <summary>Unwraps a task that a synchronous code path has already completed.</summary>
    public static T GetCompletedResult<T>(this ValueTask<T> task)
    {
        System.Diagnostics.Debug.Assert(task.IsCompleted, "a synchronous path returned an incomplete task");
        return task.GetAwaiter().GetResult();
    }

    /// <inheritdoc cref="GetCompletedResult{T}(ValueTask{T})"/>
    public static T GetCompletedResult<T>(this Task<T> task)
    {
        System.Diagnostics.Debug.Assert(task.IsCompleted, "a synchronous path returned an incomplete task");
        return task.GetAwaiter().GetResult();
    }

    public static void GetCompletedResult(this ValueTask task)
    {
        System.Diagnostics.Debug.Assert(task.IsCompleted, "a synchronous path returned an incomplete task");
        task.GetAwaiter().GetResult();
    }
}
