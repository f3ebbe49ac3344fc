using System.Data.Common;

namespace Switchboard;

/// <summary>
/// Root of every error Switchboard raises about a database. Derives from <see cref="DbException"/> so code that
/// catches driver errors keeps working. Messages and <see cref="ToString"/> never contain a password: known secrets
/// of the database are scrubbed even from the driver's inner exception text.
/// </summary>
public class SwitchboardException : DbException
{
    private readonly IReadOnlyList<string>? _secrets;

    public SwitchboardException(string message)
        : base(message)
    {
    }

    public SwitchboardException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal SwitchboardException(string message, string? databaseName, Exception? innerException, IReadOnlyList<string>? secrets)
        : base(SecretMasker.Scrub(message, secrets), innerException)
    {
        DatabaseName = databaseName;
        _secrets = secrets;
    }

    /// <summary>The named database the error is about, when there is one.</summary>
    public string? DatabaseName { get; }

    /// <summary>Whether retrying the same operation later may succeed (a lost connection, a deadlock, a timeout).</summary>
    public override bool IsTransient => InnerException is DbException { IsTransient: true };

    public override string ToString() => SecretMasker.Scrub(base.ToString(), _secrets);
}

/// <summary>A database name that the catalog does not hold. Lists the names it does hold.</summary>
public sealed class UnknownDatabaseException : SwitchboardException
{
    public UnknownDatabaseException(string requestedName, IReadOnlyList<string> configuredNames)
        : base(BuildMessage(requestedName, configuredNames), requestedName, null, null)
    {
        RequestedName = requestedName;
        ConfiguredNames = configuredNames;
    }

    public string RequestedName { get; }

    public IReadOnlyList<string> ConfiguredNames { get; }

    private static string BuildMessage(string name, IReadOnlyList<string> configured) =>
        Internal.Spelling.UnknownNameMessage("database", name, configured);
}

/// <summary>A connection to a database could not be opened: names the database, the dialect and the host.</summary>
public sealed class DatabaseConnectionException : SwitchboardException
{
    internal DatabaseConnectionException(string databaseName, string dialect, string target, Exception inner, IReadOnlyList<string>? secrets,
        bool isTransient = true)
        : base($"Cannot connect to database '{databaseName}' ({dialect} at {target}): {Describe(inner)}", databaseName, inner, secrets)
    {
        Target = target;
        IsTransient = isTransient;
    }

    /// <summary>Where the connection was attempted, without credentials (for example <c>127.0.0.1:5432/orders</c>).</summary>
    public string Target { get; }

    /// <summary>
    /// False when retrying cannot help: the server refused the credentials, the database or file does not exist.
    /// True for the rest (unreachable, timed out, too many connections, the server starting up or shutting down).
    /// </summary>
    public override bool IsTransient { get; }

    internal static string Describe(Exception inner)
    {
        // The first inner message that says something about the cause (driver wrappers often add only "failed to connect").
        var message = inner.Message;
        if (inner.InnerException is { } cause && !string.IsNullOrWhiteSpace(cause.Message) && !message.Contains(cause.Message, StringComparison.Ordinal))
        {
            message = $"{message} ({cause.Message})";
        }

        return message;
    }
}

/// <summary>No pooled connection became free within the checkout timeout.</summary>
public sealed class PoolTimeoutException : SwitchboardException
{
    internal PoolTimeoutException(string databaseName, string target, int maxSize, TimeSpan waited, int connecting = 0)
        : base($"Timed out after {waited.TotalMilliseconds:0} ms waiting for a connection to database '{databaseName}' ({target}): all {maxSize} pooled "
            + $"connections are in use{(connecting > 0 ? $", {connecting} of them still connecting to the server" : "")}. If sessions end normally, raise "
            + "Pool:MaxSize or Pool:CheckoutTimeout, or release sessions sooner; if the server has stopped answering, the sessions that hold them are "
            + "waiting for it, each until its connect or command timeout.", databaseName, null, null)
    {
        MaxSize = maxSize;
        Waited = waited;
        Connecting = connecting;
    }

    public int MaxSize { get; }

    /// <summary>How many of the pool's connections were still being opened when the wait timed out.</summary>
    public int Connecting { get; }

    public TimeSpan Waited { get; }

    public override bool IsTransient => true;
}

/// <summary>A statement, commit or rollback failed on a database. The driver's exception is the inner exception.</summary>
public sealed class DatabaseCommandException : SwitchboardException
{
    internal DatabaseCommandException(string databaseName, string operation, DatabaseErrorKind kind, Exception inner, IReadOnlyList<string>? secrets,
        string? target = null)
        : base($"{operation} failed on database '{databaseName}'{(target is null ? "" : " at " + target)} ({kind}): {inner.Message}", databaseName, inner, secrets)
    {
        Kind = kind;
        Target = target;
    }

    /// <summary>What kind of failure the dialect recognised.</summary>
    public DatabaseErrorKind Kind { get; }

    /// <summary>The host (and database) the statement ran on, <c>host:port/database</c> — for a replicated database, the one host that failed.</summary>
    public string? Target { get; }

    public override bool IsTransient => Kind is DatabaseErrorKind.Deadlock or DatabaseErrorKind.SerializationFailure
        or DatabaseErrorKind.ConnectionLost or DatabaseErrorKind.Timeout || base.IsTransient;
}

/// <summary>What a database error means, as far as the dialect can tell.</summary>
public enum DatabaseErrorKind
{
    Other,
    UniqueViolation,
    ForeignKeyViolation,
    NotNullViolation,
    CheckViolation,
    Deadlock,
    SerializationFailure,
    ReadOnlyTransaction,
    ConnectionLost,
    Timeout,
    SyntaxError,
    UndefinedObject,
    PermissionDenied,
}
