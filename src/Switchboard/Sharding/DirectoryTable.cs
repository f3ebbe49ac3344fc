using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using Dapper;
using Switchboard.Internal;

namespace Switchboard.Sharding;

/// <summary>
/// A key → value table in a named database (a lookup shard map's directory, a tenant set's catalog table), read through
/// a cache whose entries live <see cref="Ttl"/>. Absent keys are not cached, so a row inserted by another process is
/// found at once. Thread-safe.
/// </summary>
internal sealed class DirectoryTable
{
    private readonly SwitchboardCatalog _catalog;
    private readonly ConcurrentDictionary<ShardKey, Entry> _cache = new();
    private readonly int _capacity;
    private readonly string _lookupSql;
    private readonly string _insertSql;
    private readonly string _updateSql;

    public DirectoryTable(SwitchboardCatalog catalog, string database, string table, string keyColumn, string valueColumn, TimeSpan ttl, int capacity)
    {
        _catalog = catalog;
        Database = database;
        Table = table;
        Ttl = ttl;
        _capacity = capacity;
        var dialect = catalog.GetDefinition(database).Dialect;
        _lookupSql = dialect.DirectoryLookupSql(table, keyColumn, valueColumn);
        _insertSql = dialect.DirectoryInsertSql(table, keyColumn, valueColumn);
        _updateSql = dialect.DirectoryUpdateSql(table, keyColumn, valueColumn);
    }

    public string Database { get; }

    public string Table { get; }

    public TimeSpan Ttl { get; }

    /// <summary>How many times the table itself was asked (cache misses), for tests and statistics.</summary>
    public long Queries => Interlocked.Read(ref _queries);

    private long _queries;

    public async ValueTask<string?> LookupAsync(ShardKey key, IOBehavior io, CancellationToken cancellationToken)
    {
        var now = Stopwatch.GetTimestamp();
        if (_cache.TryGetValue(key, out var cached) && cached.Expires > now)
        {
            return cached.Value;
        }

        Interlocked.Increment(ref _queries);
        var value = await RunAsync(io, "Directory lookup", (c, d) => c.QueryFirstOrDefault<string?>(d), (c, d) => c.QueryFirstOrDefaultAsync<string?>(d),
            _lookupSql, new { key = key.Value }, cancellationToken).ConfigureAwait(false);
        if (value is not null)
        {
            if (_cache.Count >= _capacity)
            {
                Trim(now);
            }

            _cache[key] = new Entry(value, now + (long)(Ttl.TotalSeconds * Stopwatch.Frequency));
        }

        return value;
    }

    public async Task InsertAsync(ShardKey key, string value, CancellationToken cancellationToken)
    {
        await RunAsync(IOBehavior.Asynchronous, "Directory insert", (c, d) => c.Execute(d), (c, d) => c.ExecuteAsync(d), _insertSql,
            new { key = key.Value, value }, cancellationToken).ConfigureAwait(false);
        _cache.TryRemove(key, out _);
    }

    public async Task<bool> UpdateAsync(ShardKey key, string value, CancellationToken cancellationToken)
    {
        var changed = await RunAsync(IOBehavior.Asynchronous, "Directory update", (c, d) => c.Execute(d), (c, d) => c.ExecuteAsync(d), _updateSql,
            new { key = key.Value, value }, cancellationToken).ConfigureAwait(false);
        _cache.TryRemove(key, out _);
        return changed > 0;
    }

    public void Invalidate(ShardKey key) => _cache.TryRemove(key, out _);

    public void InvalidateAll() => _cache.Clear();

    private void Trim(long now)
    {
        foreach (var (key, entry) in _cache)
        {
            if (entry.Expires <= now)
            {
                _cache.TryRemove(key, out _);
            }
        }

        if (_cache.Count >= _capacity)
        {
            // Every entry has the same lifetime, so the earliest to expire are the oldest: drop the older half.
            var cutoff = _cache.Values.Select(e => e.Expires).Order().ElementAt(_cache.Count / 2);
            foreach (var (key, entry) in _cache)
            {
                if (entry.Expires <= cutoff)
                {
                    _cache.TryRemove(key, out _);
                }
            }
        }
    }

    /// <summary>One statement on a pooled connection of the directory's database, in autocommit, errors wrapped with its name.</summary>
    private async ValueTask<TResult> RunAsync<TResult>(IOBehavior io, string operation, Func<DbConnection, CommandDefinition, TResult> sync,
        Func<DbConnection, CommandDefinition, Task<TResult>> async, string sql, object parameters, CancellationToken cancellationToken)
    {
        var engine = _catalog.GetEngine(Database);
        var connection = await engine.OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
        try
        {
            var command = new CommandDefinition(sql, parameters, commandTimeout: Math.Max(1, (int)engine.Definition.CommandTimeout.TotalSeconds),
                cancellationToken: cancellationToken);
            return io == IOBehavior.Synchronous ? sync(connection, command) : await async(connection, command).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or TimeoutException)
        {
            throw new DatabaseCommandException(Database, $"{operation} in table {Table}", engine.Dialect.Classify(e), e, engine.Definition.Secrets, engine.Definition.Target);
        }
        finally
        {
            await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
        }
    }

    private readonly record struct Entry(string Value, long Expires);
}
