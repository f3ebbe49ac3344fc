using System.Collections.Frozen;
using System.Numerics;
using Switchboard.Internal;

namespace Switchboard.Sharding;

/// <summary>
/// A logical database made of several named databases of the catalog (its shards), with a rule that puts each key on
/// exactly one shard (<see cref="ShardStrategy"/>). Get one with <c>catalog.Shards("events")</c>. Open sessions for a key
/// (<see cref="ForKey"/>), for a shard (<see cref="ForShard"/>), or query every shard at once (<see cref="Query{T}"/>).
/// A write may touch one shard per session; writes spanning shards are refused (<see cref="CrossShardWriteException"/>).
/// Thread-safe.
/// </summary>
public sealed class ShardMap
{
    private readonly SwitchboardCatalog _catalog;
    private readonly IShardRouter _router;
    private readonly FrozenDictionary<string, Shard> _byName;

    internal ShardMap(SwitchboardCatalog catalog, string name, IReadOnlyList<string> databases, Func<ShardMap, IShardRouter> router, int maxParallelism)
    {
        _catalog = catalog;
        Name = name;
        Shards = [.. databases.Select((d, i) => new Shard(catalog, this, i, d))];
        _byName = Shards.ToFrozenDictionary(s => s.DatabaseName, StringComparer.OrdinalIgnoreCase);
        MaxParallelism = maxParallelism;
        _router = router(this);
    }

    public string Name { get; }

    public ShardStrategy Strategy => _router.Strategy;

    /// <summary>The shards in their configured order.</summary>
    public IReadOnlyList<Shard> Shards { get; }

    /// <summary>Most shards a fan-out query runs on at once (unless its options say otherwise).</summary>
    public int MaxParallelism { get; }

    internal SwitchboardCatalog Catalog => _catalog;

    /// <summary>
    /// The shard index the hash strategy gives a key among <paramref name="shardCount"/> shards — the same in every
    /// process, on every machine, in every version. Useful to plan adding shards (which keys would move).
    /// </summary>
    public static int HashShardIndex(ShardKey key, int shardCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        return StableHash.Bucket(key, shardCount);
    }

    /// <summary>The shard that holds a key. A lookup map may ask its directory table (blocking; prefer <see cref="ForKeyAsync"/>).</summary>
    public Shard ForKey(ShardKey key) => Shards[_router.LocateAsync(key, IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult()];

    /// <inheritdoc cref="ForKey"/>
    public async ValueTask<Shard> ForKeyAsync(ShardKey key, CancellationToken cancellationToken = default) =>
        Shards[await _router.LocateAsync(key, IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false)];

    /// <summary>The shard whose database has this name; throws <see cref="ArgumentException"/> listing the shards otherwise.</summary>
    public Shard ForShard(string databaseName)
    {
        ArgumentNullException.ThrowIfNull(databaseName);
        return _byName.TryGetValue(databaseName, out var shard)
            ? shard
            : throw new ArgumentException(
                $"'{databaseName}' is not a shard of shard map '{Name}' (shards: {string.Join(", ", Shards.Select(s => s.DatabaseName))}).", nameof(databaseName));
    }

    /// <summary>Opens a session on the shard of a key. Everything done in it stays on that shard.</summary>
    public DatabaseSession OpenSession(ShardKey key, SessionOptions? options = null) => ForKey(key).OpenSession(options);

    /// <summary>
    /// Opens one session for work on several keys, when they all live on one shard; otherwise refuses with
    /// <see cref="CrossShardWriteException"/> naming the shards, before anything is written (use
    /// <see cref="BeginDistributedAsync"/> for a write across shards).
    /// </summary>
    public async ValueTask<DatabaseSession> OpenSessionForKeysAsync(IEnumerable<ShardKey> keys, SessionOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var shards = new SortedSet<int>();
        foreach (var key in keys)
        {
            shards.Add(await _router.LocateAsync(key, IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false));
        }

        return shards.Count switch
        {
            0 => throw new ArgumentException("No keys given.", nameof(keys)),
            1 => Shards[shards.Min].OpenSession(options),
            _ => throw CrossShardWrites.Refuse(this, [.. shards.Select(i => Shards[i].DatabaseName)], "the keys live on different shards."),
        };
    }

    /// <summary>
    /// Begins a distributed (two-phase commit) transaction over the shards of <paramref name="keys"/>: write to each
    /// with <c>tx.Session(map.ForKey(key).DatabaseName)</c>, then <c>CommitAsync</c> — all shards or none. This is how
    /// a write spanning shards is done; see <see cref="DistributedTransactionExtensions.BeginDistributedAsync(SwitchboardCatalog, IReadOnlyList{string}, DistributedTransactionOptions?, CancellationToken)"/>.
    /// </summary>
    public async Task<DistributedTransaction> BeginDistributedAsync(IEnumerable<ShardKey> keys, DistributedTransactionOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var shards = new SortedSet<int>();
        foreach (var key in keys)
        {
            shards.Add(await _router.LocateAsync(key, IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false));
        }

        if (shards.Count == 0)
        {
            throw new ArgumentException("No keys given.", nameof(keys));
        }

        return await _catalog.BeginDistributedAsync([.. shards.Select(i => Shards[i].DatabaseName)], options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A query to run on every shard (or those in <see cref="FanOutOptions.Shards"/>) in parallel. Enumerate it for an
    /// unordered stream; chain <see cref="ShardQuery{T}.OrderBy{TKey}"/> and <see cref="ShardQuery{T}.Take"/> for a
    /// globally ordered, limited merge.
    /// </summary>
    public ShardQuery<T> Query<T>(string sql, object? parameters = null, FanOutOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sql);
        if (options?.Shards is { } subset)
        {
            _ = SelectShards(subset); // unknown names fail here, not in the middle of an enumeration
        }

        return new ShardQuery<T>(this, sql, parameters, options ?? FanOutOptions.Default);
    }

    /// <summary>
    /// Adds up a count over the shards: <paramref name="sql"/> returns one number per shard (<c>SELECT COUNT(*) …</c>).
    /// Aggregates fail whenever a shard fails, whatever the policy: a partial count is a wrong count.
    /// </summary>
    public async Task<long> CountAsync(string sql, object? parameters = null, FanOutOptions? options = null, CancellationToken cancellationToken = default)
    {
        long total = 0;
        await foreach (var row in Aggregate<long?>(sql, parameters, options).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            total += row.Row ?? 0;
        }

        return total;
    }

    /// <summary>Adds up a sum over the shards (<c>SELECT SUM(x) …</c> per shard); NULLs (empty shards) count as zero.</summary>
    public async Task<TNumber> SumAsync<TNumber>(string sql, object? parameters = null, FanOutOptions? options = null, CancellationToken cancellationToken = default)
        where TNumber : struct, INumber<TNumber>
    {
        var total = TNumber.Zero;
        await foreach (var row in Aggregate<TNumber?>(sql, parameters, options).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            total += row.Row ?? TNumber.Zero;
        }

        return total;
    }

    /// <summary>The least of the shards' values (<c>SELECT MIN(x) …</c> per shard); null when no shard has one.</summary>
    public Task<TValue?> MinAsync<TValue>(string sql, object? parameters = null, FanOutOptions? options = null, CancellationToken cancellationToken = default)
        where TValue : struct, IComparable<TValue> =>
        ExtremeAsync<TValue>(sql, parameters, options, -1, cancellationToken);

    /// <summary>The greatest of the shards' values (<c>SELECT MAX(x) …</c> per shard); null when no shard has one.</summary>
    public Task<TValue?> MaxAsync<TValue>(string sql, object? parameters = null, FanOutOptions? options = null, CancellationToken cancellationToken = default)
        where TValue : struct, IComparable<TValue> =>
        ExtremeAsync<TValue>(sql, parameters, options, 1, cancellationToken);

    /// <summary>Lookup maps: records in the directory that a (new) key lives on a shard. Fails if the key has a row already.</summary>
    public Task AssignAsync(ShardKey key, string databaseName, CancellationToken cancellationToken = default) =>
        Directory().InsertAsync(key, ForShard(databaseName).DatabaseName, cancellationToken);

    /// <summary>
    /// Lookup maps: points a key at another shard in the directory (after its rows were copied there). Other processes
    /// see the move when their cached answer expires (<see cref="ShardLookupOptions.CacheTtl"/>).
    /// </summary>
    public Task<bool> ReassignAsync(ShardKey key, string databaseName, CancellationToken cancellationToken = default) =>
        Directory().UpdateAsync(key, ForShard(databaseName).DatabaseName, cancellationToken);

    /// <summary>Lookup maps: forgets this process's cached answer for a key.</summary>
    public void Invalidate(ShardKey key) => Directory().Invalidate(key);

    /// <summary>Lookup maps: forgets every cached answer.</summary>
    public void InvalidateAll() => Directory().InvalidateAll();

    public override string ToString() => $"{Name} ({Strategy}: {string.Join(", ", Shards.Select(s => s.DatabaseName))})";

    internal IReadOnlyList<Shard> SelectShards(IReadOnlyCollection<string>? names) =>
        names is null ? Shards : [.. names.Select(ForShard).Distinct().OrderBy(s => s.Index)];

    private ShardQuery<TRow> Aggregate<TRow>(string sql, object? parameters, FanOutOptions? options) =>
        Query<TRow>(sql, parameters, (options ?? FanOutOptions.Default) with { FailurePolicy = ShardFailurePolicy.FailQuery });

    private async Task<TValue?> ExtremeAsync<TValue>(string sql, object? parameters, FanOutOptions? options, int sign, CancellationToken cancellationToken)
        where TValue : struct, IComparable<TValue>
    {
        TValue? best = null;
        await foreach (var row in Aggregate<TValue?>(sql, parameters, options).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (row.Row is { } value && (best is null || Math.Sign(value.CompareTo(best.Value)) == sign))
            {
                best = value;
            }
        }

        return best;
    }

    private DirectoryTable Directory() => _router is LookupShardRouter lookup
        ? lookup.Directory
        : throw new InvalidOperationException($"Shard map '{Name}' uses the {Strategy} strategy; only lookup maps have a directory.");
}

/// <summary>
/// The one place a write across shards is refused: a session or a fan-out query may write to one shard only; a write
/// spanning shards goes through <see cref="ShardMap.BeginDistributedAsync"/> (two-phase commit).
/// </summary>
internal static class CrossShardWrites
{
    public static CrossShardWriteException Refuse(ShardMap map, IReadOnlyList<string> databases, string detail) =>
        new(map.Name, databases, detail);
}
