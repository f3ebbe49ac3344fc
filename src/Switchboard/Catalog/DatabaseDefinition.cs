using Switchboard.Dialects;

namespace Switchboard;

/// <summary>
/// The validated, immutable configuration of one named database. Built by <see cref="SwitchboardCatalogBuilder"/>;
/// later changes to the options it came from do not reach it. <see cref="ToString"/> never shows a secret.
/// </summary>
public sealed class DatabaseDefinition
{
    private IReadOnlyList<string>? _secrets;

    internal DatabaseDefinition(string name, Dialect dialect, ConnectionSettings connection, PoolSettings pool,
        TimeSpan commandTimeout, TimeSpan connectTimeout, IReadOnlyList<KeyValuePair<string, string>> providerOptions, bool? twoPhaseCommit = null)
    {
        CanPrepare = twoPhaseCommit ?? dialect.SupportsTwoPhaseCommit;
        Name = name;
        Dialect = dialect;
        Connection = connection;
        Pool = pool;
        CommandTimeout = commandTimeout;
        ConnectTimeout = connectTimeout;
        ProviderOptions = providerOptions;
    }

    /// <summary>The name the application uses for this database.</summary>
    public string Name { get; }

    public Dialect Dialect { get; }

    /// <summary>Driver settings. <see cref="ConnectionSettings.ConnectionString"/> holds the password.</summary>
    public ConnectionSettings Connection { get; }

    /// <summary>Where the database is, without credentials.</summary>
    public string Target => Connection.Target;

    public PoolSettings Pool { get; }

    public TimeSpan CommandTimeout { get; }

    public TimeSpan ConnectTimeout { get; }

    /// <summary>Free-form provider options, in the order given (URL query first).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ProviderOptions { get; }

    /// <summary>Whether the database prepares its branch of a distributed transaction (else it can only be the last resource).</summary>
    public bool CanPrepare { get; }

    /// <summary>
    /// How sessions are routed across the database's hosts (a primary and replicas), or null for a single-host database.
    /// </summary>
    public RoutingSettings? Routing
    {
        get;
        internal init
        {
            field = value;
            _secrets = value is null ? null : [.. Connection.Secrets.Concat(value.Hosts.SelectMany(h => h.Connection.Secrets)).Distinct()];
        }
    }

    /// <summary>The same database reached with other driver settings.</summary>
    internal DatabaseDefinition WithConnection(ConnectionSettings connection) =>
        new(Name, Dialect, connection, Pool, CommandTimeout, ConnectTimeout, ProviderOptions, CanPrepare) { Routing = Routing };

    internal IReadOnlyList<string> Secrets => _secrets ?? Connection.Secrets;

    public override string ToString() => $"{Name} ({Dialect.Name} at {Target})";
}
