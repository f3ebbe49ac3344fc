using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Switchboard.Dialects;

namespace Switchboard.MySql;

/// <summary>
/// MySQL and MariaDB through any ADO.NET driver's <see cref="DbProviderFactory"/> (MySqlConnector or MySql.Data).
/// The parameterless constructor finds whichever of the two the application references.
/// </summary>
public sealed partial class MySqlDialect : Dialect
{
    private static readonly Dictionary<string, string> UrlKeywords = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sslmode"] = "SslMode",
        ["ssl_mode"] = "SslMode",
        ["charset"] = "CharacterSet",
        ["application_name"] = "Application Name",
        ["connect_timeout"] = "Connection Timeout",
    };

    private readonly MySqlDriver _driver;

    // Physical connections that already had their result charset fixed, by server (host, port) and thread id: thread
    // ids are unique per server only, and one named database may span several servers (replicas).
    private readonly ConcurrentDictionary<(string Server, int ThreadId), byte> _prepared = new();
    // One per server (host and port) for the whole process: the thread pool that MySql.Data can starve is the process's
    // (see OpenAsync), and a server that hangs must not hold up opens to every other.
    private static readonly ConcurrentDictionary<string, OpenGate> OpenGates = new(StringComparer.OrdinalIgnoreCase);

    // Connection string's hash -> "host:port", so that the string is parsed once, not at every checkout. Keyed by the hash
    // so that no password stays in memory here; two strings with one hash would only share a queue.
    private static readonly ConcurrentDictionary<int, string> GateKeys = new();

    /// <summary>Uses the MySQL driver the application references (MySqlConnector first, then MySql.Data).</summary>
    public MySqlDialect()
        : this(MySqlDriver.Discover() ?? throw new InvalidOperationException(
            "no MySQL ADO.NET driver found: reference MySqlConnector or MySql.Data, or pass its DbProviderFactory to new MySqlDialect(factory)"))
    {
    }

    /// <summary>Uses the given driver, for example <c>MySqlConnectorFactory.Instance</c> or <c>MySqlClientFactory.Instance</c>.</summary>
    public MySqlDialect(DbProviderFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _driver = new MySqlDriver(factory);
    }

    public override string Name => "mysql";

    public override IReadOnlyList<string> Aliases { get; } = ["mysql", "mariadb"];

    public override int? DefaultPort => 3306;

    public override bool SupportsTwoPhaseCommit => true;

    /// <summary>The driver in use (assembly name).</summary>
    public string DriverName => _driver.DriverName;

    public override ConnectionSettings? CreateSettings(ConnectionRequest request, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        var before = problems.Count;
        var builder = _driver.Factory.CreateConnectionStringBuilder()
            ?? throw new InvalidOperationException($"{_driver.DriverName} has no connection string builder");
        if (request.Url is { } url)
        {
            var ports = url.Hosts.Select(h => h.Port).Where(p => p is not null).Distinct().ToList();
            if (ports.Count > 1)
            {
                problems.Add("MySQL drivers take one port for all hosts; give every host the same port");
                return null;
            }

            builder["Server"] = string.Join(',', url.Hosts.Select(h => h.Host));
            builder["Port"] = (ports.FirstOrDefault() ?? DefaultPort!.Value).ToString(CultureInfo.InvariantCulture);
            if (url.UserName is not null)
            {
                builder["User ID"] = url.UserName;
            }

            if (url.Password is not null)
            {
                builder["Password"] = url.Password;
            }

            if (url.Database is not null)
            {
                builder["Database"] = url.Database;
            }
        }
        else
        {
            SetConnectionString(builder, request.ConnectionString, (key, value) => ApplyOption(builder, key, value, problems));
        }

        if (request.Password is not null)
        {
            builder["Password"] = request.Password;
        }

        builder["Pooling"] = true;
        builder["Maximum Pool Size"] = request.Pool.MaxSize;
        builder["Minimum Pool Size"] = request.Pool.MinIdle;
        builder["Connection Lifetime"] = request.Pool.ConnectionLifetime is { } life ? Math.Max(1, (int)life.TotalSeconds) : 0;
        builder["Connection Timeout"] = Math.Max(1, (int)request.ConnectTimeout.TotalSeconds);
        builder["Default Command Timeout"] = Math.Max(1, (int)request.CommandTimeout.TotalSeconds);
        if (!builder.ContainsKey("CharacterSet") || string.IsNullOrEmpty(builder["CharacterSet"]?.ToString()))
        {
            builder["CharacterSet"] = "utf8mb4";
        }

        foreach (var (key, value) in request.ProviderOptions)
        {
            ApplyOption(builder, key, value, problems);
        }

        if (problems.Count > before)
        {
            return null;
        }

        var server = builder.TryGetValue("Server", out var s) ? s?.ToString() : null;
        if (string.IsNullOrWhiteSpace(server))
        {
            problems.Add("no host (Server)");
            return null;
        }

        var port = builder.TryGetValue("Port", out var p) ? Convert.ToInt32(p, CultureInfo.InvariantCulture) : DefaultPort!.Value;
        var hosts = server.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(h => new DatabaseHost(h, port)).ToList();
        var database = builder.TryGetValue("Database", out var d) ? d?.ToString() : null;
        var user = builder.TryGetValue("User ID", out var u) ? u?.ToString() : null;
        var password = builder.TryGetValue("Password", out var pw) ? pw?.ToString() : null;
        IReadOnlyList<string> secrets = password is { Length: > 0 } ? [password] : [];
        return new ConnectionSettings(builder.ConnectionString, string.Join(',', hosts) + "/" + database, hosts, database, user, secrets);
    }

    // InnoDB rolls back the whole transaction to break a deadlock; the session is then in autocommit mode.
    public override bool RollsBackTransactionOn(DatabaseErrorKind kind) => kind == DatabaseErrorKind.Deadlock;

    public override DbDataSource CreateDataSource(DatabaseDefinition definition) =>
        new MySqlDataSource(_driver, definition.Connection.ConnectionString);

    // MySQL drivers pool by connection string, one pool per process: the monitor's connection (kept open between
    // checks) would take a slot of the sessions' pool, and a failed check's pool clearing would clear theirs.
    public override DbDataSource CreateMonitorDataSource(DatabaseDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var settings = new DbConnectionStringBuilder { ConnectionString = definition.Connection.ConnectionString };
        settings["Pooling"] = "false";
        return new MySqlDataSource(_driver, settings.ConnectionString);
    }

    public override async Task OpenAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        if (!async || !_driver.BlocksOnOpen)
        {
            await base.OpenAsync(connection, async, cancellationToken).ConfigureAwait(false);
            return;
        }

        // MySql.Data's OpenAsync blocks its thread, and its TCP connect then waits for a task that needs another pool
        // thread to complete. A burst of new connections opened on pool threads can therefore block every pool thread
        // (seen: each open stuck until the server's connect_timeout reset it). One blocking open at a time per server
        // leaves the rest of the pool free to complete it; the others wait asynchronously, until the queue has not moved
        // for a connect timeout. A pooled open takes microseconds.
        var server = GateKey(connection);
        var gate = OpenGates.GetOrAdd(server, static _ => new OpenGate());
        var timeout = connection.ConnectionTimeout > 0 ? TimeSpan.FromSeconds(connection.ConnectionTimeout) : Timeout.InfiniteTimeSpan;
        await gate.EnterAsync(server, timeout, cancellationToken).ConfigureAwait(false);
        try
        {
            connection.Open();
        }
        finally
        {
            gate.Exit();
        }
    }

    /// <summary>
    /// One server's queue of blocking opens. A waiter gives up only when the queue has not moved for a whole connect
    /// timeout (the open ahead is stuck: the server does not answer), not when a burst of healthy opens is long.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "One per server, kept for the process's lifetime.")]
    private sealed class OpenGate
    {
        private readonly SemaphoreSlim _semaphore = new(1, 1);
        private long _lastProgress = Stopwatch.GetTimestamp();

        public async ValueTask EnterAsync(string server, TimeSpan timeout, CancellationToken cancellationToken)
        {
            while (!await _semaphore.WaitAsync(timeout, cancellationToken).ConfigureAwait(false))
            {
                if (Stopwatch.GetElapsedTime(Volatile.Read(ref _lastProgress)) >= timeout)
                {
                    throw new TimeoutException($"No connection to {server} could be opened: opens to that server queue behind one another "
                        + $"(the MySQL driver blocks a thread while it connects), and the one ahead has not finished in {timeout.TotalSeconds:0} s");
                }
            }

            Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
        }

        public void Exit()
        {
            Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
            _semaphore.Release();
        }
    }

    private static string GateKey(DbConnection connection)
    {
        var connectionString = connection.ConnectionString;
        var hash = StringComparer.Ordinal.GetHashCode(connectionString);
        if (GateKeys.TryGetValue(hash, out var key))
        {
            return key;
        }

        var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
        var host = builder.TryGetValue("Server", out var s) ? Convert.ToString(s, CultureInfo.InvariantCulture) : connection.DataSource;
        var port = builder.TryGetValue("Port", out var p) ? Convert.ToString(p, CultureInfo.InvariantCulture) : "3306";
        key = $"{host}:{port}";
        if (GateKeys.Count > 10_000)
        {
            GateKeys.Clear(); // thousands of tenant databases: forgetting costs one parse each
        }

        GateKeys.TryAdd(hash, key);
        return key;
    }

    public override async ValueTask OnConnectionOpenedAsync(DbConnection connection, DatabaseDefinition definition, bool async,
        CancellationToken cancellationToken)
    {
        if (!_driver.NeedsResultCharsetFix)
        {
            return;
        }

        // Once per physical connection (pooled connections keep session variables), not once per checkout.
        var threadId = _driver.ServerThreadId(connection);
        if (threadId is { } id && _prepared.ContainsKey((definition.Target, id)))
        {
            return;
        }

        await ExecuteAsync(connection, null, "SET character_set_results = utf8mb4", async, cancellationToken).ConfigureAwait(false);
        if (threadId is { } newId)
        {
            if (_prepared.Count > 10_000)
            {
                _prepared.Clear(); // ids of closed connections accumulate; forgetting only costs one SET each
            }

            _prepared.TryAdd((definition.Target, newId), 0);
        }
    }

    public override async ValueTask<DbTransaction> BeginTransactionAsync(DbConnection connection, DatabaseDefinition definition, IsolationLevel isolationLevel, bool isReadOnly,
        bool async, CancellationToken cancellationToken)
    {
        // The access mode must be set before the transaction starts; SESSION scope because MySql.Data's BeginTransaction
        // issues its own SET SESSION TRANSACTION first. ResetSessionStateAsync puts it back before the connection is pooled.
        if (isReadOnly)
        {
            await ExecuteAsync(connection, null, "SET SESSION TRANSACTION READ ONLY", async, cancellationToken).ConfigureAwait(false);
        }

        var level = isolationLevel == IsolationLevel.Unspecified ? IsolationLevel.RepeatableRead : isolationLevel;
        return async
            ? await connection.BeginTransactionAsync(level, cancellationToken).ConfigureAwait(false)
            : connection.BeginTransaction(level);
    }

    public override ValueTask ResetSessionStateAsync(DbConnection connection, bool isReadOnly, bool async, CancellationToken cancellationToken) =>
        isReadOnly ? ExecuteAsync(connection, null, "SET SESSION TRANSACTION READ WRITE", async, cancellationToken) : default;

    public override void ClearPool(DbConnection connection) => _driver.ClearPool(connection);

    // MariaDB announces itself as "5.5.5-10.11.19-MariaDB-…" for the sake of old replication clients.
    public override string DescribeServerVersion(string reported) =>
        reported.StartsWith("5.5.5-", StringComparison.Ordinal) && reported.Contains("MariaDB", StringComparison.OrdinalIgnoreCase) ? reported[6..] : reported;

    public override DatabaseErrorKind Classify(Exception exception)
    {
        // The server's error may sit under a driver wrapper (MySql.Data reports a refused login as "unable to connect"
        // with the server's 1045 inside).
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (KindOf(_driver.ErrorNumber(e)) is { } kind)
            {
                return kind;
            }
        }

        return base.Classify(exception);
    }

    private static DatabaseErrorKind? KindOf(int? number) => number switch
    {
        1062 or 1586 => DatabaseErrorKind.UniqueViolation,
        1451 or 1452 or 1216 or 1217 => DatabaseErrorKind.ForeignKeyViolation,
        1048 or 1364 => DatabaseErrorKind.NotNullViolation,
        3819 or 4025 => DatabaseErrorKind.CheckViolation,
        1213 => DatabaseErrorKind.Deadlock,
        1205 or 3024 => DatabaseErrorKind.Timeout,
        1792 or 1290 or 1836 => DatabaseErrorKind.ReadOnlyTransaction,
        1064 => DatabaseErrorKind.SyntaxError,
        1146 or 1054 or 1049 or 1305 => DatabaseErrorKind.UndefinedObject,
        1044 or 1045 or 1142 or 1143 or 1227 => DatabaseErrorKind.PermissionDenied,
        2006 or 2013 or 1053 or 1927 => DatabaseErrorKind.ConnectionLost,
        _ => null,
    };

    /// <summary>A URL query parameter or Options entry: libpq and MySQL client names are translated to the driver's keywords.</summary>
    private static void ApplyOption(DbConnectionStringBuilder builder, string key, string value, ICollection<string> problems)
    {
        var keyword = UrlKeywords.GetValueOrDefault(key, key);
        if (string.Equals(keyword, "SslMode", StringComparison.OrdinalIgnoreCase) || string.Equals(keyword, "Ssl Mode", StringComparison.OrdinalIgnoreCase))
        {
            if (SslMode(value) is not { } mode)
            {
                problems.Add($"{key} '{value}' is not one of disable, prefer, require, verify-ca, verify-full (or MySQL's DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY)");
                return;
            }

            value = mode;
        }

        SetOption(builder, key, keyword, value, problems);
    }

    /// <summary>libpq's and MySQL's ssl-mode values, as the ADO.NET drivers spell them; null for anything else.</summary>
    private static string? SslMode(string value) => value.Trim().ToLowerInvariant() switch
    {
        "disable" or "disabled" or "none" => "None",
        "prefer" or "preferred" => "Preferred",
        "require" or "required" => "Required",
        "verify-ca" or "verify_ca" or "verifyca" => "VerifyCA",
        "verify-full" or "verify_identity" or "verifyfull" => "VerifyFull",
        _ => null,
    };
}
