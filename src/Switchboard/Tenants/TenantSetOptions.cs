namespace Switchboard.Tenants;

/// <summary>
/// How one tenant set (a database per tenant, resolved by tenant id) is configured, in code or from a <c>Tenants</c>
/// configuration section. Each tenant's database gets the database options here (pool, timeouts, password, provider
/// options) with its own URL: from <see cref="Url"/> with <c>{tenant}</c> replaced, or from the <see cref="Directory"/>
/// table. Validated and frozen by <see cref="SwitchboardCatalogBuilder.Build"/>.
/// </summary>
public sealed class TenantSetOptions
{
    /// <summary>
    /// A URL template with <c>{tenant}</c> where the tenant id goes: <c>postgresql://app:${PG_PASSWORD}@db1/tenant_{tenant}</c>,
    /// <c>sqlite:///tenants/{tenant}.db</c>. Tenant ids are checked (see docs/sharding.md), so they cannot change the
    /// URL's structure. Give this or <see cref="Directory"/>.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>A catalog table mapping tenant ids to URLs (instead of <see cref="Url"/>).</summary>
    public TenantDirectoryOptions? Directory { get; set; }

    /// <summary>Every tenant's password, overriding the URL's.</summary>
    public string? Password { get; set; }

    /// <summary>An environment variable holding every tenant's password.</summary>
    public string? PasswordEnvironmentVariable { get; set; }

    public TimeSpan? CommandTimeout { get; set; }

    public TimeSpan? ConnectTimeout { get; set; }

    /// <summary>
    /// Each tenant's pool. <see cref="PoolOptions.MaxSize"/> defaults to 5 here (a tenant rarely needs more, and the
    /// set's <see cref="MaxOpenConnections"/> bounds them all). <see cref="PoolOptions.CheckoutTimeout"/> also bounds the
    /// wait for the set's connection limit.
    /// </summary>
    public PoolOptions Pool { get; set; } = new();

    /// <summary>Provider options, as for a database.</summary>
    public IDictionary<string, string> Options { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Most physical connections open at once over all tenants of the set (checked out or idle in a tenant's pool).
    /// A checkout beyond it closes another tenant's idle connections or waits. Default 100.
    /// </summary>
    public int MaxOpenConnections { get; set; } = 100;

    /// <summary>Sets naming the same group share one <see cref="MaxOpenConnections"/> (which must then be equal), e.g. sets on one server.</summary>
    public string? ConnectionLimitGroup { get; set; }

    /// <summary>Most tenant engines kept in memory; beyond it the least recently used idle one is evicted. Default 1,000.</summary>
    public int MaxEngines { get; set; } = 1000;

    /// <summary>A tenant engine unused this long is evicted and its pool closed. Default 5 minutes.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// What <see cref="TenantSet.CreateAsync"/> copies: a template database on the server (PostgreSQL) or a template file
    /// (SQLite). Null creates an empty database.
    /// </summary>
    public string? Template { get; set; }

    /// <summary>SQL run in each new tenant database after it is created (after copying <see cref="Template"/>).</summary>
    public string? Schema { get; set; }

    /// <summary>PostgreSQL: the database to connect to for CREATE/DROP DATABASE. Default <c>postgres</c>.</summary>
    public string? MaintenanceDatabase { get; set; }
}

/// <summary>A table (in a named database) with a row per tenant giving its database URL.</summary>
public sealed class TenantDirectoryOptions
{
    /// <summary>The named database holding the table.</summary>
    public string? Database { get; set; }

    /// <summary>The table, optionally schema-qualified. Plain identifiers only.</summary>
    public string? Table { get; set; }

    /// <summary>The tenant id column. Default <c>tenant_id</c>.</summary>
    public string KeyColumn { get; set; } = "tenant_id";

    /// <summary>The URL column (a URL may use <c>${NAME}</c> environment references). Default <c>url</c>.</summary>
    public string UrlColumn { get; set; } = "url";

    /// <summary>How long a tenant's URL is reused before the table is asked again. Default 1 minute.</summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Most URLs cached. Default 100,000.</summary>
    public int CacheSize { get; set; } = 100_000;
}
