using Microsoft.Extensions.Logging;

namespace Switchboard.Extensions.DependencyInjection;

/// <summary>
/// The sessions of one service scope (one HTTP request): at most one per database and intent, opened on first use and
/// disposed with the scope, which rolls back whatever was not committed. <c>WithUnitOfWork()</c> calls
/// <see cref="CommitAsync"/> or <see cref="RollbackAsync"/> for an endpoint; elsewhere (a background job's scope) call
/// them yourself. Committing several databases is not atomic: each commits in turn.
/// </summary>
public sealed partial class DatabaseSessionScope : IAsyncDisposable, IDisposable
{
    private readonly SwitchboardCatalog _catalog;
    private readonly SwitchboardRegistration _registration;
    private readonly ILogger _logger;
    private readonly List<DatabaseSession> _sessions = [];
    private readonly Lock _lock = new();

    internal DatabaseSessionScope(SwitchboardCatalog catalog, SwitchboardRegistration registration, ILogger<DatabaseSessionScope> logger)
    {
        _catalog = catalog;
        _registration = registration;
        _logger = logger;
    }

    /// <summary>The sessions opened in this scope so far, in order.</summary>
    public IReadOnlyList<DatabaseSession> Sessions
    {
        get
        {
            lock (_lock)
            {
                return [.. _sessions];
            }
        }
    }

    /// <summary>The scope's session on a database, opened on first use (no connection is taken until it is used).</summary>
    public DatabaseSession Get(string database, SessionIntent intent = SessionIntent.ReadWrite)
    {
        ArgumentNullException.ThrowIfNull(database);
        lock (_lock)
        {
            foreach (var existing in _sessions)
            {
                if (existing.Options.Intent == intent && string.Equals(existing.DatabaseName, database, StringComparison.OrdinalIgnoreCase))
                {
                    return existing;
                }
            }

            var session = _catalog.OpenSession(database, intent);
            _sessions.Add(session);
            return session;
        }
    }

    /// <summary>The session of the default database (<c>UseDefaultDatabase</c>, or the only one configured).</summary>
    public DatabaseSession GetDefault()
    {
        var name = _registration.DefaultDatabase
            ?? (_catalog.Names.Count == 1 ? _catalog.Names[0] : throw new InvalidOperationException(
                $"Several databases are configured ({string.Join(", ", _catalog.Names)}): inject a session with [FromKeyedServices(\"name\")], "
                + "or choose the default with AddSwitchboard(...).UseDefaultDatabase(\"name\")."));
        return Get(name);
    }

    /// <summary>
    /// Commits every session with work in progress, read-write ones first, each in turn. If one fails, the sessions not yet
    /// committed are rolled back and the error is rethrown; those already committed stay committed (and are logged).
    /// </summary>
    public async Task CommitAsync(CancellationToken cancellationToken = default)
    {
        var sessions = Sessions.Where(s => s.IsActive).OrderBy(s => s.Options.Intent == SessionIntent.ReadOnly).ToList();
        var committed = new List<string>();
        for (var i = 0; i < sessions.Count; i++)
        {
            try
            {
                await sessions[i].CommitAsync(cancellationToken).ConfigureAwait(false);
                committed.Add(sessions[i].DatabaseName);
            }
            catch (Exception e) when (e is SwitchboardException or InvalidOperationException or OperationCanceledException)
            {
                var rest = sessions.Skip(i + 1).ToList();
                await RollbackEachAsync(rest).ConfigureAwait(false);
                if (committed.Count > 0)
                {
                    LogPartialCommit(_logger, string.Join(", ", committed), sessions[i].DatabaseName,
                        string.Join(", ", rest.Select(s => s.DatabaseName).Prepend(sessions[i].DatabaseName)));
                }

                throw;
            }
        }
    }

    /// <summary>Rolls back every session with work in progress. Never throws: a failed rollback is logged, and the server
    /// rolls back by itself when the connection is discarded.</summary>
    public Task RollbackAsync() => RollbackEachAsync(Sessions);

    private async Task RollbackEachAsync(IReadOnlyList<DatabaseSession> sessions)
    {
        foreach (var session in sessions)
        {
            try
            {
                await session.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (SwitchboardException e)
            {
                LogRollbackFailed(_logger, session.DatabaseName, e.GetType().Name);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var session in Sessions)
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        foreach (var session in Sessions)
        {
            session.Dispose();
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Error, Message = "Unit of work only partly committed: committed on {Committed}; commit failed on {Failed}; rolled back {RolledBack}")]
    private static partial void LogPartialCommit(ILogger logger, string committed, string failed, string rolledBack);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Rollback on {Database} failed ({ErrorType}); the connection was discarded")]
    private static partial void LogRollbackFailed(ILogger logger, string database, string errorType);
}
