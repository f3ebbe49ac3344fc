using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Switchboard.Sharding;

/// <summary>
/// One execution of a fan-out query: starts a producer per shard under a concurrency limit, collects shard failures,
/// and stops every shard at once (one cancellation source) when the caller cancels, the consumer has what it needs, or
/// — under <see cref="ShardFailurePolicy.FailQuery"/> — a shard fails. Producers never throw; their errors become
/// <see cref="ShardFailure"/>s. An error that happens after the run was stopped is a consequence of stopping, not a failure.
/// </summary>
internal sealed class FanOutRun : IAsyncDisposable
{
    private readonly string _mapName;
    private readonly int _shardCount;
    private readonly ShardFailurePolicy _policy;
    private readonly CancellationToken _caller;
    private readonly CancellationTokenSource _cts;
    private readonly ConcurrentQueue<ShardFailure> _failures = new();
    private Task _completion = Task.CompletedTask;

    public FanOutRun(string mapName, int shardCount, ShardFailurePolicy policy, CancellationToken caller)
    {
        _mapName = mapName;
        _shardCount = shardCount;
        _policy = policy;
        _caller = caller;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(caller);
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>Completes when every producer has finished (successfully or not).</summary>
    public Task Completion => _completion;

    /// <summary>Whether a shard failed under <see cref="ShardFailurePolicy.FailQuery"/>, so the run was stopped.</summary>
    public bool StoppedByFailure => _policy == ShardFailurePolicy.FailQuery && !_failures.IsEmpty;

    public IReadOnlyList<ShardFailure> Failures => [.. _failures.OrderBy(f => f.Shard.Index)];

    public void Start(IReadOnlyList<Shard> shards, int parallelism, Func<Shard, int, CancellationToken, Task> produce)
    {
        var throttle = new SemaphoreSlim(parallelism, parallelism);
        var producers = new Task[shards.Count];
        for (var i = 0; i < shards.Count; i++)
        {
            producers[i] = RunProducerAsync(shards[i], i, throttle, produce);
        }

        _completion = Task.WhenAll(producers);
    }

    private async Task RunProducerAsync(Shard shard, int position, SemaphoreSlim throttle, Func<Shard, int, CancellationToken, Task> produce)
    {
        await Task.Yield(); // every shard's work starts on the thread pool, not on the caller's stack
        var admitted = false;
        try
        {
            await throttle.WaitAsync(Token).ConfigureAwait(false);
            admitted = true;
            await produce(shard, position, Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!Token.IsCancellationRequested)
        {
            _failures.Enqueue(new ShardFailure(shard, e));
            if (_policy == ShardFailurePolicy.FailQuery)
            {
                await _cts.CancelAsync().ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // The run was stopped (caller cancelled, enough rows, another shard failed): this error is its consequence.
        }
        finally
        {
            if (admitted)
            {
                throttle.Release();
            }
        }
    }

    /// <summary>
    /// The next item of a channel, or false when the channel is finished or the run was stopped by a failure.
    /// Throws <see cref="OperationCanceledException"/> when the caller cancelled.
    /// </summary>
    public async ValueTask<(bool Ok, TItem Item)> ReadAsync<TItem>(ChannelReader<TItem> reader)
    {
        try
        {
            while (await reader.WaitToReadAsync(Token).ConfigureAwait(false))
            {
                if (reader.TryRead(out var item))
                {
                    return (true, item);
                }
            }

            return (false, default!);
        }
        catch (OperationCanceledException)
        {
            _caller.ThrowIfCancellationRequested();
            return (false, default!);
        }
    }

    /// <summary>Stops the shards still running, waits for them, and throws when the query as a whole failed.</summary>
    public async ValueTask FinishAsync()
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        await _completion.ConfigureAwait(false);
        _caller.ThrowIfCancellationRequested();
        if (_policy == ShardFailurePolicy.FailQuery && !_failures.IsEmpty)
        {
            throw CreateException(_mapName, _shardCount, Failures);
        }
    }

    internal static Exception CreateException(string mapName, int shardCount, IReadOnlyList<ShardFailure> failures)
    {
        // A write refused by a shard's read-only transaction is a cross-shard write attempt: say that, not "query failed".
        var write = failures.FirstOrDefault(f => f.Error is DatabaseCommandException { Kind: DatabaseErrorKind.ReadOnlyTransaction });
        return write is not null
            ? new CrossShardWriteException(mapName, [.. failures.Select(f => f.Shard.DatabaseName)],
                $"fan-out queries run in read-only transactions, and shard '{write.Shard.DatabaseName}' refused a write.", write.Error)
            : new ShardQueryException(mapName, shardCount, failures);
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        await _completion.ConfigureAwait(false);
        _cts.Dispose();
    }
}
