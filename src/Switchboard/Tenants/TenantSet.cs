using System.Data.Common;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Switchboard.Dialects;
using Switchboard.Internal;
using Switchboard.Sharding;

namespace Switchboard.Tenants;

/// <summary>
/// A database per tenant, resolved from a tenant id: get one with <c>catalog.Tenants("customers")</c>. Each tenant's
/// engine (pool) is created on first use and evicted — its pool closed — when idle longer than
/// <see cref="TenantSetOptions.IdleTimeout"/> or when more than <see cref="TenantSetOptions.MaxEngines"/> are in memory
/// (least recently used first). Physical connections over all tenants never exceed
/// <see cref="TenantSetOptions.MaxOpenConnections"/>: a checkout beyond it closes another tenant's idle connections or
/// waits, bounded by the tenant's checkout timeout. Thread-safe.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The catalog disposes its tenant sets.")]
public sealed partial class TenantSet
{
    private readonly SwitchboardCatalog _catalog;
    private readonly TenantSetSettings _settings;
    private readonly Func<string, DatabaseOptions, List<ConfigurationProblem>, DatabaseDefinition?> _define;
    private readonly ConnectionLimiter _limiter;
    private readonly DirectoryTable? _directory;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _lru = new(); // least recently used first
    private readonly Timer _sweeper;
    private readonly ILogger _engineLogger;
    private readonly ILogger _logger;
    private long _created;
    private long _evicted;
    private bool _disposed;
    private string? _target;

    internal TenantSet(SwitchboardCatalog catalog, TenantSetSettings settings, ConnectionLimiter limiter,
        Func<string, DatabaseOptions, List<ConfigurationProblem>, DatabaseDefinition?> define)
    {
        _catalog = catalog;
        _settings = settings;
        _limiter = limiter;
        _define = define;
        _engineLogger = catalog.LoggerFactory.CreateLogger("Switchboard.Engines");
        _logger = catalog.LoggerFactory.CreateLogger("Switchboard.Tenants");
        if (settings.Directory is { } d)
        {
            _directory = new DirectoryTable(catalog, d.Database, d.Table, d.KeyColumn, d.UrlColumn, d.CacheTtl, d.CacheSize);
        }

        var period = TimeSpan.FromTicks(Math.Clamp(settings.IdleTimeout.Ticks / 2, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(30).Ticks));
        _sweeper = new Timer(static state => ((TenantSet)state!).Sweep(), this, period, period);
    }

    public string Name => _settings.Name;

    /// <summary>
    /// Where the tenants' databases are, without credentials: the URL template's target with <c>{tenant}</c> left in
    /// (<c>127.0.0.1:5432/tenant_{tenant}</c>), or the directory table (<c>table tenants in database 'control'</c>).
    /// </summary>
    public string Target => _target ??= DescribeTarget();

    /// <summary>The dialect of a URL template set (<c>postgresql</c>, <c>sqlite</c>…); null when a directory table gives each tenant's URL.</summary>
    public string? DialectName => _settings.UrlTemplate is null ? null : Sample().Dialect.Name;

    /// <summary>What <see cref="CreateAsync"/> copies (<see cref="TenantSetOptions.Template"/>), or null.</summary>
    public string? Template => _settings.Template;

    /// <summary>The connection limit group this set shares its cap with, or null when the cap is its own.</summary>
    public string? ConnectionLimitGroup => string.Equals(_limiter.Name, Name, StringComparison.OrdinalIgnoreCase) ? null : _limiter.Name;

    /// <summary>The cap on open connections this set counts against (shared with its <see cref="TenantSetOptions.ConnectionLimitGroup"/>).</summary>
    public int MaxOpenConnections => _limiter.Limit;

    /// <summary>The database of a tenant. Throws <see cref="ArgumentException"/> for an invalid id, <see cref="TenantScopeLockedException"/> inside a scope locked to another tenant.</summary>
    public TenantDatabase ForTenant(string tenantId)
    {
        CheckTenantId(tenantId);
        TenantScope.CheckNotLocked(this, tenantId);
        return new TenantDatabase(this, tenantId);
    }

    /// <summary>The database of the tenant of the innermost active scope of this set.</summary>
    public TenantDatabase Current => TenantScope.Find(this)?.Database
        ?? throw new InvalidOperationException($"No tenant scope of tenant set '{Name}' is active: call BeginScope(tenantId) first, or use ForTenant(tenantId).");

    /// <summary>The tenant of the innermost active scope of this set, or null.</summary>
    public string? CurrentTenantId => TenantScope.Find(this)?.TenantId;

    /// <summary>
    /// Makes a tenant current for the code that follows (and the tasks it starts) until the scope is disposed. With
    /// <paramref name="lockTenant"/>, code inside cannot use another tenant of this set.
    /// </summary>
    public TenantScope BeginScope(string tenantId, bool lockTenant = false)
    {
        CheckTenantId(tenantId);
        return TenantScope.Begin(this, tenantId, lockTenant);
    }

    /// <summary>Opens a session on the current tenant's database (see <see cref="BeginScope"/>).</summary>
    public DatabaseSession OpenSession(SessionOptions? options = null) => Current.OpenSession(options);

    /// <summary>
    /// Creates a tenant's database: copies <see cref="TenantSetOptions.Template"/> if set, then runs
    /// <see cref="TenantSetOptions.Schema"/> if set. Fails (naming the tenant's database) when it exists.
    /// </summary>
    public async Task CreateAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        CheckTenantId(tenantId);
        TenantScope.CheckNotLocked(this, tenantId);
        var definition = await DefineAsync(tenantId, IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
        await RunDialectAsync(definition, "CREATE DATABASE",
            d => d.Dialect.CreateDatabaseAsync(d, Creation, true, cancellationToken)).ConfigureAwait(false);
        if (_settings.Schema is { } schema)
        {
            try
            {
                var session = await OpenSessionAsync(tenantId, null, IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
                await using (session.ConfigureAwait(false))
                {
                    await session.ExecuteAsync(schema, null, cancellationToken).ConfigureAwait(false);
                    await session.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception)
            {
                // A half-made tenant would exist without its tables, and CreateAsync could not be run again: drop it.
                try
                {
                    await DropAsync(tenantId, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception dropError) when (dropError is SwitchboardException or InvalidOperationException or IOException)
                {
                    // The Schema's error stays the one the caller sees; the log says what is left to do.
                    LogHalfCreated(_logger, Name, tenantId, dropError.GetType().Name);
                }

                throw;
            }
        }

        LogCreated(_logger, Name, tenantId);
    }

    /// <summary>
    /// Drops a tenant's database after closing its engine's pool; false when it did not exist. Refused while a session
    /// or connection of the tenant is open in this process.
    /// </summary>
    public async Task<bool> DropAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        CheckTenantId(tenantId);
        TenantScope.CheckNotLocked(this, tenantId);
        DatabaseDefinition? definition = null;
        Entry? evicted = null;
        var permits = 0;
        lock (_lock)
        {
            if (_entries.TryGetValue(tenantId, out var entry))
            {
                if (entry.Leases > 0 || !_limiter.TryClose(entry.Account, out permits))
                {
                    throw new InvalidOperationException(
                        $"Tenant '{tenantId}' of tenant set '{Name}' is in use in this process (open sessions or connections): dispose them before dropping its database.");
                }

                Remove(entry);
                evicted = entry;
                definition = entry.Engine.Definition;
            }
        }

        if (evicted is not null)
        {
            await CloseAsync(evicted, permits, IOBehavior.Asynchronous).ConfigureAwait(false);
        }

        definition ??= await DefineAsync(tenantId, IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
        var dropped = await RunDialectAsync(definition, "DROP DATABASE",
            d => d.Dialect.DropDatabaseAsync(d, Creation, true, cancellationToken)).ConfigureAwait(false);
        if (dropped)
        {
            LogDropped(_logger, Name, tenantId);
        }

        return dropped;
    }

    /// <summary>Whether a tenant's database exists.</summary>
    public async Task<bool> ExistsAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        CheckTenantId(tenantId);
        var definition = await DefineAsync(tenantId, IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false);
        return await RunDialectAsync(definition, "database existence check",
            d => d.Dialect.DatabaseExistsAsync(d, Creation, true, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Evicts every engine unused for <paramref name="idleFor"/> (default: the idle timeout), closing its pool; returns how many.</summary>
    public int EvictIdle(TimeSpan? idleFor = null)
    {
        var cutoff = Stopwatch.GetTimestamp() - (long)((idleFor ?? _settings.IdleTimeout).TotalSeconds * Stopwatch.Frequency);
        List<(Entry, int)> victims;
        lock (_lock)
        {
            victims = CollectVictims(int.MaxValue, cutoff);
        }

        foreach (var (entry, permits) in victims)
        {
            CloseAsync(entry, permits, IOBehavior.Synchronous).GetCompletedResult();
        }

        return victims.Count;
    }

    public TenantStatistics GetStatistics()
    {
        int engines;
        lock (_lock)
        {
            engines = _entries.Count;
        }

        var (open, inUse, peak, waiting, waits, timeouts, trims) = _limiter.Snapshot();
        return new TenantStatistics(engines, Interlocked.Read(ref _created), Interlocked.Read(ref _evicted), open, inUse, _limiter.Limit, peak,
            waiting, waits, timeouts, trims);
    }

    public override string ToString() => $"TenantSet({Name})";

    // A tenant id no real tenant is likely to have, replaced back by the placeholder when describing the template.
    private const string SampleTenant = "tenant-placeholder-7f3a";

    private DatabaseDefinition Sample() =>
        _define(Name + "/" + SampleTenant, _settings.DatabaseOptionsFor(_settings.UrlTemplate!.Replace(TenantSetSettings.Placeholder, SampleTenant, StringComparison.Ordinal)), [])
        ?? throw new InvalidOperationException($"The URL template of tenant set '{Name}' does not validate."); // validated at build: cannot happen

    private string DescribeTarget() => _settings.Directory is { } d
        ? $"table {d.Table} in database '{d.Database}'"
        : Sample().Target.Replace(SampleTenant, TenantSetSettings.Placeholder, StringComparison.Ordinal);

    private DatabaseCreation Creation => new(_settings.Template, _settings.MaintenanceDatabase);

    internal PoolStatistics? GetPoolStatistics(string tenantId)
    {
        lock (_lock)
        {
            return _entries.TryGetValue(tenantId, out var entry) ? entry.Engine.GetPoolStatistics() : null;
        }
    }

    internal async ValueTask<DatabaseSession> OpenSessionAsync(string tenantId, SessionOptions? options, IOBehavior io, CancellationToken cancellationToken)
    {
        var lease = await AcquireAsync(tenantId, io, cancellationToken).ConfigureAwait(false);
        return new DatabaseSession(lease.Entry.Engine, options ?? SessionOptions.Default, _catalog.SessionLogger, lease);
    }

    internal async ValueTask<DbConnection> OpenConnectionAsync(string tenantId, IOBehavior io, CancellationToken cancellationToken)
    {
        // The lease covers the checkout only: once checked out, the connection itself keeps the engine from eviction.
        using var lease = await AcquireAsync(tenantId, io, cancellationToken).ConfigureAwait(false);
        return await lease.Entry.Engine.OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Finds or creates the tenant's engine and pins it (a lease) so that it is not evicted while used.</summary>
    private async ValueTask<Lease> AcquireAsync(string tenantId, IOBehavior io, CancellationToken cancellationToken)
    {
        CheckTenantId(tenantId);
        TenantScope.CheckNotLocked(this, tenantId);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_entries.TryGetValue(tenantId, out var existing))
            {
                existing.Leases++;
                Touch(existing);
                return new Lease(this, existing);
            }
        }

        var definition = await DefineAsync(tenantId, io, cancellationToken).ConfigureAwait(false);
        var account = _limiter.CreateAccount(Name, tenantId, definition.Pool.CheckoutTimeout);
        var engine = new DatabaseEngine(definition, _engineLogger, account);
        account.Engine = engine;
        Entry entry;
        var lost = false;
        List<(Entry, int)>? victims = null;
        lock (_lock)
        {
            if (_disposed)
            {
                lost = true;
                entry = null!;
            }
            else if (_entries.TryGetValue(tenantId, out var raced))
            {
                // Another caller created it first: use theirs, drop ours (it never opened a connection).
                raced.Leases++;
                Touch(raced);
                entry = raced;
                lost = true;
            }
            else
            {
                entry = new Entry(tenantId, engine, account) { Leases = 1 };
                entry.Node = _lru.AddLast(entry);
                _entries.Add(tenantId, entry);
                _created++;
                if (_entries.Count > _settings.MaxEngines)
                {
                    victims = CollectVictims(_entries.Count - _settings.MaxEngines, long.MaxValue);
                }
            }
        }

        if (lost)
        {
            await DisposeEngineAsync(engine, io).ConfigureAwait(false);
            ObjectDisposedException.ThrowIf(entry is null, this);
        }

        if (victims is not null)
        {
            foreach (var (victim, permits) in victims)
            {
                await CloseAsync(victim, permits, io).ConfigureAwait(false);
            }
        }

        return new Lease(this, entry);
    }

    private static ValueTask DisposeEngineAsync(DatabaseEngine engine, IOBehavior io)
    {
        if (io == IOBehavior.Asynchronous)
        {
            return engine.DisposeAsync();
        }

        engine.Dispose();
        return default;
    }

    /// <summary>Resolves a tenant's URL and validates its database exactly as a configured database is validated.</summary>
    private async ValueTask<DatabaseDefinition> DefineAsync(string tenantId, IOBehavior io, CancellationToken cancellationToken)
    {
        string url;
        if (_directory is not null)
        {
            url = await _directory.LookupAsync(ShardKey.FromString(tenantId), io, cancellationToken).ConfigureAwait(false)
                ?? throw new TenantNotFoundException(Name, tenantId, _directory.Database, _directory.Table);
        }
        else
        {
            url = _settings.UrlTemplate!.Replace(TenantSetSettings.Placeholder, tenantId, StringComparison.Ordinal);
        }

        var problems = new List<ConfigurationProblem>();
        var definition = _define(Name + "/" + tenantId, _settings.DatabaseOptionsFor(url), problems);
        if (definition is null)
        {
            throw new CatalogConfigurationException(problems);
        }

        // Opening never creates a tenant's database (CreateAsync does): a mistyped id fails instead of leaving an empty file.
        var existingOnly = definition.Dialect.OpenExistingOnly(definition);
        if (!ReferenceEquals(existingOnly, definition.Connection))
        {
            definition = definition.WithConnection(existingOnly);
        }

        if (definition.Dialect.MaxDatabaseNameLength is { } max && definition.Connection.Database is { } database
            && Encoding.UTF8.GetByteCount(database) > max)
        {
            throw new ArgumentException(
                $"Tenant id '{tenantId}' of tenant set '{Name}' makes the database name '{database}' longer than {definition.Dialect.Name}'s limit of {max} bytes " +
                "(the server would truncate it, and two tenants could share a database). Use shorter tenant ids.", nameof(tenantId));
        }

        return definition;
    }

    private static async Task<T> RunDialectAsync<T>(DatabaseDefinition definition, string operation, Func<DatabaseDefinition, ValueTask<T>> body)
    {
        try
        {
            return await body(definition).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or IOException or UnauthorizedAccessException && e is not SwitchboardException)
        {
            throw new DatabaseCommandException(definition.Name, operation, definition.Dialect.Classify(e), e, definition.Secrets, definition.Target);
        }
    }

    private static async Task RunDialectAsync(DatabaseDefinition definition, string operation, Func<DatabaseDefinition, ValueTask> body) =>
        await RunDialectAsync(definition, operation, async d =>
        {
            await body(d).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);

    private void ReleaseLease(Entry entry)
    {
        lock (_lock)
        {
            entry.Leases--;
            if (entry.Node is not null)
            {
                Touch(entry);
            }
        }
    }

    private void Touch(Entry entry)
    {
        entry.LastUsed = Stopwatch.GetTimestamp();
        if (entry.Node is { } node && node != _lru.Last)
        {
            _lru.Remove(node);
            _lru.AddLast(node);
        }
    }

    /// <summary>
    /// Under the lock: takes up to <paramref name="count"/> least recently used entries last used before
    /// <paramref name="cutoff"/> that no session pins and no connection of which is checked out.
    /// </summary>
    private List<(Entry, int)> CollectVictims(int count, long cutoff)
    {
        var victims = new List<(Entry, int)>();
        for (var node = _lru.First; node is not null && victims.Count < count;)
        {
            var next = node.Next;
            var entry = node.Value;
            if (entry.LastUsed > cutoff)
            {
                break; // the rest were used more recently
            }

            if (entry.Leases == 0 && _limiter.TryClose(entry.Account, out var permits))
            {
                Remove(entry);
                victims.Add((entry, permits));
            }

            node = next;
        }

        return victims;
    }

    private void Remove(Entry entry)
    {
        _entries.Remove(entry.TenantId);
        if (entry.Node is { } node)
        {
            _lru.Remove(node);
            entry.Node = null;
        }
    }

    /// <summary>Disposes an evicted engine (closing its pool), then gives its permits back to the limit.</summary>
    private async ValueTask CloseAsync(Entry entry, int permits, IOBehavior io)
    {
        try
        {
            await DisposeEngineAsync(entry.Engine, io).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or IOException or InvalidOperationException)
        {
            var errorType = e.GetType().Name;
            LogCloseFailed(_logger, Name, entry.TenantId, errorType);
        }
        finally
        {
            _limiter.Return(permits);
            Interlocked.Increment(ref _evicted);
        }

        LogEvicted(_logger, Name, entry.TenantId);
    }

    private void Sweep()
    {
        try
        {
            EvictIdle();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A timer callback must not throw (it would end the process); the next sweep tries again.
            var errorType = e.GetType().Name;
            LogSweepFailed(_logger, Name, errorType);
        }
    }

    internal async ValueTask DisposeAsync(IOBehavior io)
    {
        List<Entry> entries;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            entries = [.. _entries.Values];
            _entries.Clear();
            _lru.Clear();
        }

        if (io == IOBehavior.Synchronous)
        {
            _sweeper.Dispose();
        }
        else
        {
            await _sweeper.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var entry in entries)
        {
            await DisposeEngineAsync(entry.Engine, io).ConfigureAwait(false);
        }
    }

    internal static void CheckTenantId(string tenantId, string? setName = null)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        if (!TenantIdPattern().IsMatch(tenantId))
        {
            var shown = tenantId.Length > 64 ? tenantId[..64] + "…" : tenantId;
            shown = string.Concat(shown.Select(c => char.IsControl(c) ? '?' : c));
            throw new ArgumentException(
                $"Invalid tenant id '{shown}'{(setName is null ? "" : $" for tenant set '{setName}'")}: use 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit.",
                nameof(tenantId));
        }
    }

    private void CheckTenantId(string tenantId) => CheckTenantId(tenantId, Name);

    /// <summary>Lower-case ASCII letters, digits, '_' and '-': nothing that can end a path segment, a URL part or a quoted identifier.</summary>
    [GeneratedRegex(@"^[a-z0-9][a-z0-9_-]{0,62}\z")]
    private static partial Regex TenantIdPattern();

    [LoggerMessage(EventId = 6001, Level = LogLevel.Debug, Message = "Tenant set {Set}: evicted tenant {Tenant}; its pool is closed")]
    private static partial void LogEvicted(ILogger logger, string set, string tenant);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Tenant set {Set}: closing the pool of tenant {Tenant} failed ({ErrorType})")]
    private static partial void LogCloseFailed(ILogger logger, string set, string tenant, string errorType);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "Tenant set {Set}: idle eviction failed ({ErrorType}); retrying at the next sweep")]
    private static partial void LogSweepFailed(ILogger logger, string set, string errorType);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Information, Message = "Tenant set {Set}: created the database of tenant {Tenant}")]
    private static partial void LogCreated(ILogger logger, string set, string tenant);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Information, Message = "Tenant set {Set}: dropped the database of tenant {Tenant}")]
    private static partial void LogDropped(ILogger logger, string set, string tenant);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Error, Message = "Tenant set {Set}: the Schema of new tenant {Tenant} failed, and dropping its database again failed ({ErrorType}); drop it by hand")]
    private static partial void LogHalfCreated(ILogger logger, string set, string tenant, string errorType);

    private sealed class Entry(string tenantId, DatabaseEngine engine, ConnectionLimiter.Account account)
    {
        public string TenantId { get; } = tenantId;

        public DatabaseEngine Engine { get; } = engine;

        public ConnectionLimiter.Account Account { get; } = account;

        public int Leases { get; set; }

        public long LastUsed { get; set; } = Stopwatch.GetTimestamp();

        public LinkedListNode<Entry>? Node { get; set; }
    }

    /// <summary>Pins an entry; disposing (once) unpins it.</summary>
    private sealed class Lease(TenantSet set, Entry entry) : IDisposable
    {
        private int _released;

        public Entry Entry { get; } = entry;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                set.ReleaseLease(Entry);
            }
        }
    }
}

/// <summary>A tenant set's validated, frozen settings.</summary>
internal sealed record TenantSetSettings(
    string Name,
    string? UrlTemplate,
    TenantDirectorySettings? Directory,
    string? Password,
    string? PasswordEnvironmentVariable,
    TimeSpan? CommandTimeout,
    TimeSpan? ConnectTimeout,
    PoolOptions Pool,
    IReadOnlyDictionary<string, string> Options,
    int MaxEngines,
    TimeSpan IdleTimeout,
    string? Template,
    string? Schema,
    string? MaintenanceDatabase)
{
    public const string Placeholder = "{tenant}";

    /// <summary>The database options of one tenant: the set's, with the tenant's URL.</summary>
    public DatabaseOptions DatabaseOptionsFor(string url) => new()
    {
        Url = url,
        Password = Password,
        PasswordEnvironmentVariable = PasswordEnvironmentVariable,
        CommandTimeout = CommandTimeout,
        ConnectTimeout = ConnectTimeout,
        Pool = Pool,
        Options = new Dictionary<string, string>(Options, StringComparer.OrdinalIgnoreCase),
    };
}

internal sealed record TenantDirectorySettings(string Database, string Table, string KeyColumn, string UrlColumn, TimeSpan CacheTtl, int CacheSize);
