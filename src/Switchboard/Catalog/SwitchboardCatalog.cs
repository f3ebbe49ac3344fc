using System.Collections.Frozen;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Switchboard.Transactions;

namespace Switchboard;

/// <summary>
/// The named databases of an application. Holds one validated <see cref="DatabaseDefinition"/> per name and creates each
/// <see cref="DatabaseEngine"/> (pool) on first use, exactly once even under concurrency. Disposing the catalog closes
/// every pool. Names are case-insensitive. Thread-safe.
/// </summary>
public sealed partial class SwitchboardCatalog : IDisposable, IAsyncDisposable
{
    private readonly FrozenDictionary<string, EngineSlot> _slots;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _sessionLogger;
    private int _enginesCreated;
    private int _disposed;
    private int _disposeStarted;

    internal SwitchboardCatalog(IReadOnlyList<DatabaseDefinition> definitions, ILoggerFactory loggerFactory, TransactionSettings transactions)
    {
        _loggerFactory = loggerFactory;
        _sessionLogger = loggerFactory.CreateLogger("Switchboard.Sessions");
        _slots = definitions.ToFrozenDictionary(d => d.Name, d => new EngineSlot(d), StringComparer.OrdinalIgnoreCase);
        Names = [.. definitions.Select(d => d.Name).Order(StringComparer.OrdinalIgnoreCase)];
        Transactions = new TransactionCoordinator(this, transactions, loggerFactory);
    }

    /// <summary>A builder for configuring databases in code.</summary>
    public static SwitchboardCatalogBuilder CreateBuilder() => new();

    /// <summary>
    /// Builds a catalog from a configuration section such as <c>configuration.GetSection("Databases")</c>.
    /// Throws <see cref="CatalogConfigurationException"/> listing every problem.
    /// </summary>
    public static SwitchboardCatalog FromConfiguration(IConfiguration section, Action<SwitchboardCatalogBuilder>? configure = null)
    {
        var builder = CreateBuilder();
        configure?.Invoke(builder);
        return builder.AddConfiguration(section).Build();
    }

    /// <summary>The configured names, sorted.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Every database definition, sorted by name.</summary>
    public IEnumerable<DatabaseDefinition> Databases => Names.Select(n => _slots[n].Definition);

    /// <summary>The coordinator of distributed transactions (Transactions/); opens nothing until used.</summary>
    internal TransactionCoordinator Transactions { get; }

    internal ILoggerFactory LoggerFactory => _loggerFactory;

    internal ILogger SessionLogger => _sessionLogger;

    /// <summary>How many engines have been created so far (each database's at most once).</summary>
    public int EnginesCreated => Volatile.Read(ref _enginesCreated);

    public bool Contains(string name) => _slots.ContainsKey(name);

    /// <summary>The definition of a named database; throws <see cref="UnknownDatabaseException"/> listing the configured names.</summary>
    public DatabaseDefinition GetDefinition(string name) => Slot(name).Definition;

    /// <summary>Whether disposal has begun: new work is refused, and background work ends quietly.</summary>
    internal bool IsDisposing => Volatile.Read(ref _disposed) != 0;

    /// <summary>The engine (pool) of a named database, created on first use.</summary>
    public DatabaseEngine GetEngine(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return Slot(name).GetOrCreate(this);
    }

    /// <summary>Opens a session (unit of work) on a named database. No connection is taken until the session is first used.</summary>
    public DatabaseSession OpenSession(string name, SessionOptions? options = null) =>
        new(GetEngine(name), options ?? RoutingScope.DefaultSessionOptions, _sessionLogger);

    /// <summary>Opens a session with the given intent.</summary>
    public DatabaseSession OpenSession(string name, SessionIntent intent) =>
        OpenSession(name, intent == SessionIntent.ReadOnly ? SessionOptions.ReadOnly : SessionOptions.Default);

    /// <summary>
    /// Connects to every database in parallel and reports, for each, its version, latency and pool, or its error; for a
    /// replicated database also each host's role, lag and circuit breaker, checked now.
    /// </summary>
    public async Task<IReadOnlyList<DatabaseCheckResult>> CheckAsync(CancellationToken cancellationToken = default)
    {
        var checks = Names.Select(async name =>
        {
            var definition = GetDefinition(name);
            DatabaseEngine? engine = null;
            try
            {
                engine = GetEngine(name);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(definition.ConnectTimeout + definition.Pool.CheckoutTimeout);
                await engine.RefreshTopologyAsync(timeout.Token).ConfigureAwait(false);
                var latency = await engine.PingAsync(timeout.Token).ConfigureAwait(false);
                var hosts = engine.IsReplicated ? engine.GetHostStatuses() : null;

                // The ping went to the primary: name it (after a failover, not the host configured first).
                var primary = hosts?.FirstOrDefault(h => h.IsPrimary)?.Target;

                // Several hosts taking writes is a split brain: the check fails, whichever one routing chose.
                var primaries = hosts?.Where(h => h.IsReachable && h.Role == HostRole.Primary).Select(h => h.Target).ToList();
                var splitBrain = primaries is { Count: > 1 }
                    ? $"several hosts report themselves primary ({string.Join(", ", primaries)}); writes go to {primary ?? "none of them"}: stop or fence the stale one"
                    : null;
                return new DatabaseCheckResult(name, definition.Dialect.Name, primary ?? definition.Target, splitBrain is null, engine.ServerVersion, latency,
                    engine.GetPoolStatistics(), splitBrain, hosts);
            }
            catch (Exception e) when (e is SwitchboardException or OperationCanceledException or InvalidOperationException)
            {
                var message = e is OperationCanceledException && !cancellationToken.IsCancellationRequested
                    ? $"no answer within {(definition.ConnectTimeout + definition.Pool.CheckoutTimeout).TotalSeconds:0} s"
                    : SecretMasker.Scrub(e.Message, definition.Secrets);
                return new DatabaseCheckResult(name, definition.Dialect.Name, definition.Target, false, null, null, null, message,
                    engine is { IsReplicated: true } ? engine.GetHostStatuses() : null);
            }
        });
        return await Task.WhenAll(checks).ConfigureAwait(false);
    }

    private EngineSlot Slot(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _slots.TryGetValue(name, out var slot) ? slot : throw new UnknownDatabaseException(name, Names);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) != 0)
        {
            return;
        }

        // No new work from here on. Every part is disposed even when one fails (its pools and monitors would otherwise live
        // on); the failures follow. The coordinator first, while the engines still serve it: its last sweep of commit
        // records must not be cut short.
        Volatile.Write(ref _disposed, 1);
        List<Exception>? failures = null;
        Step(Transactions.Dispose, ref failures);
        Step(DisposeTenants, ref failures);
        foreach (var slot in _slots.Values)
        {
            if (slot.Created is { } engine)
            {
                Step(engine.Dispose, ref failures);
            }
        }

        ThrowIfAny(failures);

        static void Step(Action dispose, ref List<Exception>? failures)
        {
            try
            {
                dispose();
            }
            catch (Exception e)
            {
                (failures ??= []).Add(e);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _disposed, 1);
        List<Exception>? failures = null;
        failures = await StepAsync(Transactions.DisposeAsync, failures).ConfigureAwait(false);
        failures = await StepAsync(DisposeTenantsAsync, failures).ConfigureAwait(false);
        foreach (var slot in _slots.Values)
        {
            if (slot.Created is { } engine)
            {
                failures = await StepAsync(engine.DisposeAsync, failures).ConfigureAwait(false);
            }
        }

        ThrowIfAny(failures);

        static async ValueTask<List<Exception>?> StepAsync(Func<ValueTask> dispose, List<Exception>? failures)
        {
            try
            {
                await dispose().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                (failures ??= []).Add(e);
            }

            return failures;
        }
    }

    private static void ThrowIfAny(List<Exception>? failures)
    {
        if (failures is [var only])
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(only);
        }

        if (failures is { Count: > 1 })
        {
            throw new AggregateException("Disposing the catalog failed in several places; everything else was disposed.", failures);
        }
    }

    public override string ToString() => $"SwitchboardCatalog({string.Join(", ", Names)})";

    /// <summary>Holds one database's engine; creates it once, and does not remember a failed creation.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The catalog disposes every created engine.")]
    private sealed class EngineSlot(DatabaseDefinition definition)
    {
        private readonly Lock _lock = new();
        private volatile DatabaseEngine? _engine;

        public DatabaseDefinition Definition { get; } = definition;

        public DatabaseEngine? Created => _engine;

        public DatabaseEngine GetOrCreate(SwitchboardCatalog catalog)
        {
            if (_engine is { } engine)
            {
                return engine;
            }

            lock (_lock)
            {
                if (_engine is null)
                {
                    _engine = new DatabaseEngine(Definition, catalog._loggerFactory.CreateLogger("Switchboard.Engines"));
                    Interlocked.Increment(ref catalog._enginesCreated);
                }

                return _engine;
            }
        }
    }
}

/// <summary>The result of checking one database.</summary>
public sealed record DatabaseCheckResult(
    string Name,
    string Dialect,
    string Target,
    bool Ok,
    string? ServerVersion,
    TimeSpan? Latency,
    PoolStatistics? Pool,
    string? Error,
    IReadOnlyList<HostStatus>? Hosts = null);
