using System.Runtime.ExceptionServices;
using Switchboard.Internal;

namespace Switchboard.Transactions;

/// <summary>Runs one operation per participant at the same time, synchronously or asynchronously (one code path for both).</summary>
internal static class Fanout
{
    // Not an async method: on the hot path of every distributed commit, a state machine of its own would only add a
    // continuation between the participants' I/O and the caller.
    public static ValueTask RunAsync(int count, Func<int, IOBehavior, ValueTask> operation, IOBehavior io)
    {
        if (count == 1)
        {
            return operation(0, io);
        }

        if (io == IOBehavior.Asynchronous)
        {
            var tasks = new Task[count];
            for (var i = 0; i < count; i++)
            {
                tasks[i] = operation(i, io).AsTask();
            }

            return new ValueTask(Task.WhenAll(tasks));
        }

        // Blocking I/O in parallel needs threads: the caller's and the pool's.
        try
        {
            System.Threading.Tasks.Parallel.For(0, count, i => operation(i, IOBehavior.Synchronous).GetCompletedResult());
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }

        return default;
    }
}
