using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Dapper;

namespace Switchboard.Sharding;

/// <summary>
/// One query run on several shards in parallel (at most <see cref="FanOutOptions.MaxParallelism"/> at once), read as
/// one asynchronous stream of <see cref="ShardRow{T}"/>. Without an order, rows arrive as the shards produce them. With
/// <see cref="OrderBy{TKey}"/> the shards' streams are merged (k-way) into one globally ordered stream: each shard's SQL
/// must sort by the same keys, and should carry <c>LIMIT n</c> when <see cref="Take"/> is used, so that no shard is
/// asked for more rows than the merge can use. Rows are mapped by Dapper. Each enumeration runs the query again.
/// Every shard runs in a read-only transaction: a statement that writes is refused by the server
/// (<see cref="CrossShardWriteException"/>). Cancelling the enumeration cancels every shard's command.
/// </summary>
public sealed class ShardQuery<T> : IAsyncEnumerable<ShardRow<T>>
{
    private const int StreamingBuffer = 64;

    private readonly ShardMap _map;
    private readonly string _sql;
    private readonly object? _parameters;
    private readonly FanOutOptions _options;
    private readonly IComparer<T>? _order;
    private readonly int? _limit;

    // Shared with the queries derived from this one (OrderBy, Take…), so that the query a caller holds reports the
    // failures of the enumeration it started, whichever derived query ran it.
    private readonly FailureHolder _failures;

    internal ShardQuery(ShardMap map, string sql, object? parameters, FanOutOptions options, IComparer<T>? order = null, int? limit = null,
        FailureHolder? failures = null)
    {
        _failures = failures ?? new FailureHolder();
        _map = map;
        _sql = sql;
        _parameters = parameters;
        _options = options;
        _order = order;
        _limit = limit;
    }

    /// <summary>
    /// The shards that failed in the most recent completed enumeration (<see cref="ShardFailurePolicy.ReturnPartialResults"/>)
    /// of this query or of one derived from it with <see cref="OrderBy{TKey}"/>, <see cref="Take"/> and the like.
    /// </summary>
    public IReadOnlyList<ShardFailure> Failures => Volatile.Read(ref _failures.Value);

    /// <summary>Merges the shards' rows in ascending order of a key. Each shard's SQL must ORDER BY the same key.</summary>
    public ShardQuery<T> OrderBy<TKey>(Func<T, TKey> keySelector, IComparer<TKey>? comparer = null) =>
        new(_map, _sql, _parameters, _options, new KeyComparer<TKey>(keySelector, comparer, false), _limit, _failures);

    /// <summary>Merges the shards' rows in descending order of a key. Each shard's SQL must ORDER BY the same key DESC.</summary>
    public ShardQuery<T> OrderByDescending<TKey>(Func<T, TKey> keySelector, IComparer<TKey>? comparer = null) =>
        new(_map, _sql, _parameters, _options, new KeyComparer<TKey>(keySelector, comparer, true), _limit, _failures);

    /// <summary>Breaks ties of the previous order with another key, ascending.</summary>
    public ShardQuery<T> ThenBy<TKey>(Func<T, TKey> keySelector, IComparer<TKey>? comparer = null) =>
        new(_map, _sql, _parameters, _options, new ThenComparer(RequireOrder(), new KeyComparer<TKey>(keySelector, comparer, false)), _limit, _failures);

    /// <summary>Breaks ties of the previous order with another key, descending.</summary>
    public ShardQuery<T> ThenByDescending<TKey>(Func<T, TKey> keySelector, IComparer<TKey>? comparer = null) =>
        new(_map, _sql, _parameters, _options, new ThenComparer(RequireOrder(), new KeyComparer<TKey>(keySelector, comparer, true)), _limit, _failures);

    /// <summary>
    /// Returns at most <paramref name="count"/> rows in all. No shard is read past <paramref name="count"/> rows, and
    /// every shard is stopped as soon as the merge has them.
    /// </summary>
    public ShardQuery<T> Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return new(_map, _sql, _parameters, _options, _order, count, _failures);
    }

    /// <summary>Runs the query and buffers every row, with the failed shards (partial results only).</summary>
    public async Task<ShardQueryResult<T>> ToResultAsync(CancellationToken cancellationToken = default)
    {
        var rows = new List<ShardRow<T>>();
        var failures = new List<ShardFailure>();
        await foreach (var row in RunAsync(failures, cancellationToken).ConfigureAwait(false))
        {
            rows.Add(row);
        }

        return new ShardQueryResult<T>(rows, failures);
    }

    public IAsyncEnumerator<ShardRow<T>> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        RunAsync(null, cancellationToken).GetAsyncEnumerator(cancellationToken);

    internal sealed class FailureHolder
    {
        public IReadOnlyList<ShardFailure> Value = [];
    }

    private IComparer<T> RequireOrder() =>
        _order ?? throw new InvalidOperationException("ThenBy needs an OrderBy (or OrderByDescending) before it.");

    private async IAsyncEnumerable<ShardRow<T>> RunAsync(List<ShardFailure>? failuresOut, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var shards = _map.SelectShards(_options.Shards);
        var parallelism = Math.Clamp(_options.MaxParallelism ?? _map.MaxParallelism, 1, Math.Max(1, shards.Count));
        if (shards.Count == 0 || _limit == 0)
        {
            yield break;
        }

        await using var run = new FanOutRun(_map.Name, shards.Count, _options.FailurePolicy, cancellationToken);
        var emitted = 0;
        var limit = _limit ?? int.MaxValue;
        if (_order is null)
        {
            // One shared bounded channel: rows in arrival order; back-pressure holds the shards when the reader is slow.
            var channel = Channel.CreateBounded<ShardRow<T>>(new BoundedChannelOptions(StreamingBuffer * 4) { SingleReader = true });
            run.Start(shards, parallelism, (shard, _, token) =>
                ProduceAsync(shard, row => channel.Writer.WriteAsync(new ShardRow<T>(shard, row), token), token));
            _ = run.Completion.ContinueWith(_ => channel.Writer.TryComplete(), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            while (emitted < limit)
            {
                var (ok, row) = await run.ReadAsync(channel.Reader).ConfigureAwait(false);
                if (!ok)
                {
                    break;
                }

                yield return row;
                emitted++;
            }
        }
        else
        {
            // A channel per shard. When every shard runs at once, small bounded buffers stream; when fewer run at once
            // than there are shards, the merge needs every shard's first row before it can emit anything, so the
            // buffers must not block a shard that has started (they hold at most Take(n) rows each).
            var streaming = parallelism >= shards.Count;
            var channels = new Channel<T>[shards.Count];
            for (var i = 0; i < channels.Length; i++)
            {
                channels[i] = streaming
                    ? Channel.CreateBounded<T>(new BoundedChannelOptions(StreamingBuffer) { SingleReader = true, SingleWriter = true })
                    : Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            }

            run.Start(shards, parallelism, async (shard, position, token) =>
            {
                try
                {
                    await ProduceAsync(shard, row => channels[position].Writer.WriteAsync(row, token), token).ConfigureAwait(false);
                }
                finally
                {
                    channels[position].Writer.TryComplete();
                }
            });

            var order = new MergeComparer(_order);
            var heap = new PriorityQueue<int, (T Row, int Shard)>(shards.Count, order);
            for (var i = 0; i < shards.Count && !run.StoppedByFailure; i++)
            {
                var (ok, row) = await run.ReadAsync(channels[i].Reader).ConfigureAwait(false);
                if (ok)
                {
                    heap.Enqueue(i, (row, i));
                }
            }

            while (emitted < limit && !run.StoppedByFailure && heap.TryDequeue(out var shard, out var head))
            {
                yield return new ShardRow<T>(shards[shard], head.Row);
                emitted++;
                if (emitted == limit)
                {
                    break;
                }

                var (ok, next) = await run.ReadAsync(channels[shard].Reader).ConfigureAwait(false);
                if (ok)
                {
                    if (_order.Compare(next, head.Row) < 0)
                    {
                        throw new InvalidOperationException(
                            $"Shard '{shards[shard].DatabaseName}' of shard map '{_map.Name}' returned rows out of the merge order: its SQL must ORDER BY the same keys, in the same directions, as the query's OrderBy/ThenBy.");
                    }

                    heap.Enqueue(shard, (next, shard));
                }
            }
        }

        await run.FinishAsync().ConfigureAwait(false);
        var failures = run.Failures;
        Volatile.Write(ref _failures.Value, failures);
        failuresOut?.AddRange(failures);
    }

    /// <summary>Reads one shard in a read-only transaction and hands each row to <paramref name="write"/>.</summary>
    private async Task ProduceAsync(Shard shard, Func<T, ValueTask> write, CancellationToken token)
    {
        // A shard that accepts connections and never answers would otherwise hold the whole fan-out for its connect and
        // command timeouts: ShardTimeout bounds one shard's connect and statement until its first row. Not beyond: from
        // then on the shard waits for the reader (the merge, the caller's loop) as much as it works.
        using var deadline = _options.ShardTimeout is { } limit ? new CancellationTokenSource(Internal.Timers.Clamp(limit)) : null;
        try
        {
            await ProduceCoreAsync(shard, write, deadline, token).ConfigureAwait(false);
        }
        catch (Exception e) when (deadline?.IsCancellationRequested == true && !token.IsCancellationRequested)
        {
            var definition = shard.Engine.Definition;
            throw new DatabaseCommandException(shard.DatabaseName, "Fan-out query", DatabaseErrorKind.Timeout,
                new TimeoutException($"The shard gave no answer within the fan-out's ShardTimeout ({_options.ShardTimeout!.Value.TotalSeconds:0.###} s).", e),
                definition.Secrets, definition.Target);
        }
    }

    private async Task ProduceCoreAsync(Shard shard, Func<T, ValueTask> write, CancellationTokenSource? deadline, CancellationToken token)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(token, deadline?.Token ?? CancellationToken.None);
        var options = _options.CommandTimeout is { } timeout ? SessionOptions.ReadOnly with { CommandTimeout = timeout } : SessionOptions.ReadOnly;
        var session = shard.OpenSession(options);
        await using (session.ConfigureAwait(false))
        {
            var engine = session.Engine;
            var connection = await session.GetConnectionAsync(stop.Token).ConfigureAwait(false);
            var transaction = await session.GetTransactionAsync(stop.Token).ConfigureAwait(false);
            // As in a session's helpers: where the driver does not stop a statement at its command timeout the way it should
            // (SQLite; MySql.Data closes the connection and leaves it running), the statement is interrupted here, up to its
            // first row, and the driver's own timeout is a later backstop.
            var commandTimeout = options.CommandTimeout ?? engine.Definition.CommandTimeout;
            var seconds = Math.Max(1, (int)engine.Dialect.DriverCommandTimeout(commandTimeout).TotalSeconds);
            var command = new CommandDefinition(_sql, _parameters, transaction, seconds, cancellationToken: stop.Token);
            DbDataReader? reader = null;
            var guard = StatementGuard.Start(engine.Dialect, connection, commandTimeout, stop.Token);
            try
            {
                reader = await connection.ExecuteReaderAsync(command).ConfigureAwait(false);
                var parser = reader.GetRowParser(typeof(T));
                var count = 0;
                var cap = _limit ?? int.MaxValue;
                var answered = false;
                while (await reader.ReadAsync(stop.Token).ConfigureAwait(false))
                {
                    if (!answered)
                    {
                        deadline?.CancelAfter(Timeout.InfiniteTimeSpan); // the shard answered: ShardTimeout is met
                        guard?.StopDeadline();
                        answered = true;
                    }

                    if (count == cap)
                    {
                        // More rows than the merge can use (the SQL has no LIMIT): cancel the rest instead of reading it.
                        await stop.CancelAsync().ConfigureAwait(false);
                        break;
                    }

                    await write(AsRow(parser(reader))).ConfigureAwait(false);
                    count++;
                }
            }
            catch (Exception e) when (guard?.TimedOut == true && !stop.IsCancellationRequested)
            {
                // Whatever the driver threw for the interrupted statement (MySql.Data 8.0 can throw a NullReferenceException).
                throw new DatabaseCommandException(shard.DatabaseName, "Fan-out query", DatabaseErrorKind.Timeout, StatementGuard.TimedOutError(commandTimeout, e),
                    engine.Definition.Secrets, engine.Definition.Target);
            }
            catch (Exception e) when (e is DbException or TimeoutException && !stop.IsCancellationRequested)
            {
                throw new DatabaseCommandException(shard.DatabaseName, "Fan-out query", engine.Dialect.Classify(e), e, engine.Definition.Secrets, engine.Definition.Target);
            }
            finally
            {
                if (reader is not null)
                {
                    try
                    {
                        await reader.DisposeAsync().ConfigureAwait(false);
                    }
                    catch (Exception e) when (stop.IsCancellationRequested && e is DbException or OperationCanceledException)
                    {
                        // The statement was cancelled on purpose; the transaction is rolled back with the session.
                    }
                }

                // Before the connection goes back to the pool, so that a late interrupt cannot hit the next user's statement.
                guard?.Dispose();
            }
        }
    }

    /// <summary>
    /// Dapper's untyped row parser gives a scalar as the provider returns it (an Int64 for SQLite's COUNT); convert it
    /// to <typeparamref name="T"/> as Dapper's Query would, so that <c>Query&lt;int&gt;</c> works on every dialect.
    /// </summary>
    private static T AsRow(object? value)
    {
        if (value is T row)
        {
            return row;
        }

        if (value is null or DBNull)
        {
            return default!;
        }

        var target = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return (T)(target.IsEnum ? Enum.ToObject(target, value) : Convert.ChangeType(value, target, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Orders the merge heap by the query's order, then by shard position so equal keys come out deterministically.</summary>
    private sealed class MergeComparer(IComparer<T> order) : IComparer<(T Row, int Shard)>
    {
        public int Compare((T Row, int Shard) x, (T Row, int Shard) y)
        {
            var c = order.Compare(x.Row, y.Row);
            return c != 0 ? c : x.Shard.CompareTo(y.Shard);
        }
    }

    private sealed class KeyComparer<TKey>(Func<T, TKey> keySelector, IComparer<TKey>? comparer, bool descending) : IComparer<T>
    {
        private readonly Func<T, TKey> _key = keySelector ?? throw new ArgumentNullException(nameof(keySelector));
        private readonly IComparer<TKey> _comparer = comparer ?? Comparer<TKey>.Default;

        public int Compare(T? x, T? y)
        {
            var c = _comparer.Compare(_key(x!), _key(y!));
            return descending ? -c : c;
        }
    }

    private sealed class ThenComparer(IComparer<T> first, IComparer<T> second) : IComparer<T>
    {
        public int Compare(T? x, T? y)
        {
            var c = first.Compare(x, y);
            return c != 0 ? c : second.Compare(x, y);
        }
    }
}
