namespace Switchboard;

/// <summary>
/// How one named database is configured, as written in code or bound from a <c>Databases</c> configuration section.
/// Mutable while configuring; <see cref="SwitchboardCatalogBuilder.Build"/> validates it and freezes it into a
/// <see cref="DatabaseDefinition"/>. Give either <see cref="Url"/> or <see cref="Provider"/> with <see cref="ConnectionString"/>.
/// </summary>
public sealed class DatabaseOptions
{
    /// <summary>A database URL such as <c>postgresql://app:${ORDERS_PASSWORD}@db1/orders</c>; <c>${NAME}</c> reads an environment variable.</summary>
    public string? Url { get; set; }

    /// <summary>The dialect (<c>postgresql</c>, <c>mysql</c>, <c>sqlite</c>) when <see cref="ConnectionString"/> is used.</summary>
    public string? Provider { get; set; }

    /// <summary>An ADO.NET connection string for <see cref="Provider"/>; <c>${NAME}</c> reads an environment variable.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>A password given apart from the URL or connection string (it overrides theirs).</summary>
    public string? Password { get; set; }

    /// <summary>The name of an environment variable that holds the password.</summary>
    public string? PasswordEnvironmentVariable { get; set; }

    /// <summary>Default timeout for each command. Default 30 s.</summary>
    public TimeSpan? CommandTimeout { get; set; }

    /// <summary>How long to wait for the server when opening a physical connection. Default 15 s.</summary>
    public TimeSpan? ConnectTimeout { get; set; }

    /// <summary>Pool sizing and checkout behaviour.</summary>
    public PoolOptions Pool { get; set; } = new();

    /// <summary>
    /// Whether the database prepares transactions in a distributed transaction. Default: whatever the dialect can do
    /// (PostgreSQL and MySQL yes, SQLite no). <c>false</c> makes a server database join only as the last resource or in
    /// best-effort mode (for example a PostgreSQL whose administrators will not raise <c>max_prepared_transactions</c>).
    /// </summary>
    public bool? TwoPhaseCommit { get; set; }

    /// <summary>
    /// Free-form provider options, added to the driver's connection string by the dialect
    /// (for example <c>SslMode</c>, <c>Application Name</c>). URL query parameters land here too.
    /// </summary>
    public IDictionary<string, string> Options { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Replicas of this database: URLs (<c>postgresql://db2:5432</c>; user, password, database and options are inherited
    /// when omitted) or connection strings of the same dialect. Read-only sessions are routed to them.
    /// </summary>
    public IList<string> Replicas { get; set; } = [];

    /// <summary>How sessions are routed across the primary and replicas (used when there are several hosts).</summary>
    public RoutingOptions Routing { get; set; } = new();
}

/// <summary>Pool options of one database. Unset values take the defaults documented on <see cref="PoolSettings"/>.</summary>
public sealed class PoolOptions
{
    /// <summary>Most connections open at once (checked out). Default 20.</summary>
    public int? MaxSize { get; set; }

    /// <summary>Idle connections the driver keeps warm. Default 0.</summary>
    public int? MinIdle { get; set; }

    /// <summary>Connections older than this are closed when returned to the pool. Default: no limit.</summary>
    public TimeSpan? ConnectionLifetime { get; set; }

    /// <summary>How long a checkout waits for a free connection before <see cref="PoolTimeoutException"/>. Default 15 s.</summary>
    public TimeSpan? CheckoutTimeout { get; set; }

    /// <summary>Run a ping on every checkout and replace a dead connection (costs one round trip). Default false.</summary>
    public bool? PrePing { get; set; }
}

/// <summary>Validated pool settings of one database.</summary>
/// <param name="MaxSize">Most connections checked out at once (default 20).</param>
/// <param name="MinIdle">Idle connections kept warm by the driver (default 0).</param>
/// <param name="ConnectionLifetime">Maximum age of a physical connection; null for no limit.</param>
/// <param name="CheckoutTimeout">How long a checkout waits for a free connection (default 15 s).</param>
/// <param name="PrePing">Whether each checkout is pinged first (default false).</param>
public sealed record PoolSettings(int MaxSize, int MinIdle, TimeSpan? ConnectionLifetime, TimeSpan CheckoutTimeout, bool PrePing)
{
    public static PoolSettings Default { get; } = new(20, 0, null, TimeSpan.FromSeconds(15), false);
}
