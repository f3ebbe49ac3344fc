using System.Data;
using System.Data.Common;

namespace Switchboard.Dialects;

/// <summary>
/// Everything Switchboard needs to know about one kind of database: how to turn configuration into a driver data source,
/// what to do when a connection opens, how transactions begin, and what an error means. Core code asks a dialect's
/// capability flags and hooks; it never checks a backend's name or references a driver.
/// </summary>
public abstract partial class Dialect
{
    /// <summary>The dialect's canonical name: <c>postgresql</c>, <c>mysql</c>, <c>sqlite</c>.</summary>
    public abstract string Name { get; }

    /// <summary>URL schemes and <c>Provider</c> names that select this dialect (lower case).</summary>
    public abstract IReadOnlyList<string> Aliases { get; }

    /// <summary>The port used when a URL gives none, or null for a dialect without a server.</summary>
    public virtual int? DefaultPort => null;

    /// <summary>Whether the database lives in a server reached over the network (false for an embedded file database).</summary>
    public virtual bool HasServer => true;

    /// <summary>Whether the database can prepare a transaction for two-phase commit.</summary>
    public virtual bool SupportsTwoPhaseCommit => false;

    /// <summary>Whether a transaction can be declared read-only so the server rejects writes.</summary>
    public virtual bool SupportsReadOnlyTransactions => true;

    /// <summary>Whether a failed statement aborts the whole transaction (PostgreSQL), so it can no longer commit.</summary>
    public virtual bool TransactionAbortsOnError => false;

    /// <summary>
    /// Whether the server rolls back the whole transaction on a failed statement of this kind, after which later statements
    /// would run outside any transaction (MySQL/InnoDB on a deadlock). Default: none.
    /// </summary>
    public virtual bool RollsBackTransactionOn(DatabaseErrorKind kind) => false;

    /// <summary>The cheapest round trip, used by ping and pre-ping.</summary>
    public virtual string PingSql => "SELECT 1";

    /// <summary>
    /// Turns validated configuration into connection settings. Problems are added to <paramref name="problems"/>
    /// (without secrets); the return value is ignored when any were added.
    /// </summary>
    public abstract ConnectionSettings? CreateSettings(ConnectionRequest request, ICollection<string> problems);

    /// <summary>Creates the driver's pooled data source for a database. Called once per engine.</summary>
    public abstract DbDataSource CreateDataSource(DatabaseDefinition definition);

    /// <summary>
    /// A data source for the replica monitor's own connection to one host, which must not share the sessions' pool (nor
    /// count against its size, nor clear it when a check fails). Default: <see cref="CreateDataSource"/>, which for a
    /// driver whose data sources each own their pool (Npgsql) is already separate.
    /// </summary>
    public virtual DbDataSource CreateMonitorDataSource(DatabaseDefinition definition) => CreateDataSource(definition);

    /// <summary>Runs after a connection opens (from the pool or new). Default: nothing.</summary>
    public virtual ValueTask OnConnectionOpenedAsync(DbConnection connection, DatabaseDefinition definition, bool async, CancellationToken cancellationToken)
        => default;

    /// <summary>Begins a transaction with the requested isolation and access mode.</summary>
    public virtual async ValueTask<DbTransaction> BeginTransactionAsync(DbConnection connection, DatabaseDefinition definition, IsolationLevel isolationLevel, bool isReadOnly,
        bool async, CancellationToken cancellationToken)
    {
        var transaction = async
            ? await connection.BeginTransactionAsync(isolationLevel, cancellationToken).ConfigureAwait(false)
            : connection.BeginTransaction(isolationLevel);
        if (isReadOnly)
        {
            await ExecuteAsync(connection, transaction, "SET TRANSACTION READ ONLY", async, cancellationToken).ConfigureAwait(false);
        }

        return transaction;
    }

    /// <summary>
    /// Commits a session's transaction. False when the server had already aborted it, so that nothing was committed and
    /// the transaction still waits for its rollback. <paramref name="checkAborted"/>: statements the session did not run
    /// itself may have failed, so a dialect whose server aborts a transaction on error should check. Default: the
    /// driver's commit, true.
    /// </summary>
    public virtual async ValueTask<bool> CommitTransactionAsync(DbConnection connection, DbTransaction transaction, bool checkAborted, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        if (async)
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            transaction.Commit();
        }

        return true;
    }

    /// <summary>
    /// Whether a failed COMMIT may still have committed. Default: when the connection was lost or the command timed out (the
    /// server may have committed without answering); otherwise the server answered, and nothing was committed.
    /// </summary>
    public virtual bool CommitMayHaveLanded(Exception exception, bool connectionLost) => connectionLost;

    /// <summary>The server's version as people know it, from what the driver reports. Default: as reported.</summary>
    public virtual string DescribeServerVersion(string reported) => reported;

    /// <summary>Undoes per-session connection state before the connection goes back to the pool. Default: nothing.</summary>
    public virtual ValueTask ResetSessionStateAsync(DbConnection connection, bool isReadOnly, bool async, CancellationToken cancellationToken)
        => default;

    /// <summary>Drops the pool a broken connection came from, so stale connections are not handed out again.</summary>
    public virtual void ClearPool(DbConnection connection)
    {
    }

    /// <summary>
    /// Says what a driver error means. Default, for what a dialect's own codes leave unmatched: the cause underneath —
    /// some drivers (MySql.Data) wrap a broken socket or a read timeout in a generic "fatal error" with no code.
    /// </summary>
    public virtual DatabaseErrorKind Classify(Exception exception)
    {
        // A timeout anywhere in the chain first: drivers that time commands out on the socket (MySql.Data) wrap the timed-out
        // read in an IOException, which alone would read as a lost connection.
        var kind = DatabaseErrorKind.Other;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case TimeoutException:
                case System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.TimedOut }:
                    return DatabaseErrorKind.Timeout;
                case EndOfStreamException or IOException or System.Net.Sockets.SocketException:
                    kind = DatabaseErrorKind.ConnectionLost;
                    break;
            }
        }

        return kind;
    }

    /// <summary>
    /// Whether a failure to connect will keep failing however often it is retried: credentials refused, no such database,
    /// no such file. Retry policies read it through <see cref="SwitchboardException.IsTransient"/>.
    /// </summary>
    public virtual bool IsPermanentConnectionFailure(Exception exception) =>
        exception is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException
        || Classify(exception) is DatabaseErrorKind.PermissionDenied or DatabaseErrorKind.UndefinedObject;

    /// <summary>Whether an error opening a connection means the server could not be reached or refused us.</summary>
    public virtual bool IsConnectionFailure(Exception exception) =>
        exception is DbException or TimeoutException or System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException;

    /// <summary>
    /// Opens a connection the engine has just created. Default: the driver's own <c>Open</c> / <c>OpenAsync</c>. A dialect
    /// whose driver blocks even in <c>OpenAsync</c> overrides it so that waiting callers do not hold thread-pool threads.
    /// </summary>
    public virtual Task OpenAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (async)
        {
            return connection.OpenAsync(cancellationToken);
        }

        connection.Open();
        return Task.CompletedTask;
    }

    /// <summary>Waits between two polls of the server, blocking or not as the caller runs (a helper for dialect hooks).</summary>
    protected static async ValueTask PauseAsync(TimeSpan pause, bool async, CancellationToken cancellationToken)
    {
        if (async)
        {
            await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            Thread.Sleep(pause);
        }
    }

    /// <summary>Runs one statement with no result (a helper for dialect hooks).</summary>
    protected static async ValueTask ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, bool async,
        CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        if (async)
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            command.ExecuteNonQuery();
        }
    }

    public override string ToString() => Name;

    /// <summary>
    /// Sets one driver option (a URL query parameter, an <c>Options</c> entry or a connection-string key). A value the
    /// driver rejects becomes a problem that names the option, and its value unless the option holds a secret, instead
    /// of the driver's exception, which names neither clearly.
    /// </summary>
    protected static void SetOption(DbConnectionStringBuilder builder, string key, string keyword, string value, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(problems);
        try
        {
            builder[keyword] = value;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException or OverflowException or InvalidOperationException)
        {
            var reason = e is ArgumentException { ParamName: { } name } && e.Message.EndsWith($" (Parameter '{name}')", StringComparison.Ordinal)
                ? e.Message[..^$" (Parameter '{name}')".Length]
                : e.Message;
            if (!builder.ContainsKey(keyword))
            {
                problems.Add($"unknown option '{key}' (the driver has no such keyword)");
                return;
            }

            problems.Add(SecretMasker.IsSecretKey(key) || SecretMasker.IsSecretKey(keyword)
                ? $"option '{key}' was refused by the driver"
                : $"option '{key}' = '{value}' was refused by the driver: {reason}");
        }
    }

    /// <summary>
    /// Applies a whole connection string; if the driver rejects it, applies it key by key through
    /// <paramref name="apply"/>, so that the problem names the key.
    /// </summary>
    protected static void SetConnectionString(DbConnectionStringBuilder builder, string? connectionString, Action<string, string> apply)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(apply);
        try
        {
            builder.ConnectionString = connectionString;
        }
        catch (ArgumentException)
        {
            // The generic builder only splits the text; it validates nothing, so it does not throw where the driver's did.
            var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
            builder.Clear();
            foreach (string key in given.Keys)
            {
                apply(key, given[key]?.ToString() ?? string.Empty);
            }
        }
    }
}

/// <summary>What the catalog asks a dialect to turn into connection settings.</summary>
/// <param name="DatabaseName">The configured name (for messages).</param>
/// <param name="Url">The parsed URL, when the database is configured by URL.</param>
/// <param name="ConnectionString">The ADO.NET connection string, when configured by one (with environment references expanded).</param>
/// <param name="Password">A password given apart from the URL or connection string; it wins over theirs.</param>
/// <param name="Pool">Validated pool settings.</param>
/// <param name="CommandTimeout">Default command timeout.</param>
/// <param name="ConnectTimeout">Timeout for opening a physical connection.</param>
/// <param name="ProviderOptions">Free-form options: URL query parameters, then the <c>Options</c> section.</param>
public sealed record ConnectionRequest(
    string DatabaseName,
    DatabaseUrl? Url,
    string? ConnectionString,
    string? Password,
    PoolSettings Pool,
    TimeSpan CommandTimeout,
    TimeSpan ConnectTimeout,
    IReadOnlyList<KeyValuePair<string, string>> ProviderOptions);

/// <summary>A dialect's answer to a <see cref="ConnectionRequest"/>.</summary>
/// <param name="ConnectionString">The driver connection string. Holds the password: never shown.</param>
/// <param name="Target">Where the database is, without credentials: <c>db1:5432/orders</c>, <c>data/app.db</c>.</param>
/// <param name="Hosts">The hosts, in order; empty for an embedded database.</param>
/// <param name="Database">The database (or file) on the server.</param>
/// <param name="UserName">The user name, if any.</param>
/// <param name="Secrets">Every secret value in the settings, scrubbed from any text Switchboard shows.</param>
public sealed record ConnectionSettings(
    string ConnectionString,
    string Target,
    IReadOnlyList<DatabaseHost> Hosts,
    string? Database,
    string? UserName,
    IReadOnlyList<string> Secrets)
{
    public override string ToString() => Target;
}
