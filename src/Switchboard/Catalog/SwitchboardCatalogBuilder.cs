using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Dialects;

namespace Switchboard;

/// <summary>
/// Collects named databases from code and configuration, then <see cref="Build"/> validates all of them at once and
/// freezes them into a <see cref="SwitchboardCatalog"/>. A builder that has built refuses further changes.
/// </summary>
public sealed partial class SwitchboardCatalogBuilder
{
    private static readonly TimeSpan DefaultCommandTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(15);

    private readonly List<(string Name, DatabaseOptions Options)> _databases = [];
    private readonly List<ConfigurationProblem> _readProblems = [];
    private readonly HashSet<string> _extensionKeys = new(StringComparer.OrdinalIgnoreCase);
    private readonly TransactionCoordinatorOptions _transactions = new();
    private ILoggerFactory _loggerFactory = NullLoggerFactory.Instance;
    private Func<string, string?> _environment = Environment.GetEnvironmentVariable;
    private bool _built;

    /// <summary>The dialects this builder resolves URL schemes and provider names with.</summary>
    public DialectRegistry Dialects { get; } = new();

    /// <summary>Adds a database configured by URL, optionally adjusting its options.</summary>
    public SwitchboardCatalogBuilder AddDatabase(string name, string url, Action<DatabaseOptions>? configure = null)
    {
        var options = new DatabaseOptions { Url = url };
        configure?.Invoke(options);
        return AddDatabase(name, options);
    }

    /// <summary>Adds a database configured by a provider name and an ADO.NET connection string.</summary>
    public SwitchboardCatalogBuilder AddDatabase(string name, string provider, string connectionString, Action<DatabaseOptions>? configure = null)
    {
        var options = new DatabaseOptions { Provider = provider, ConnectionString = connectionString };
        configure?.Invoke(options);
        return AddDatabase(name, options);
    }

    /// <summary>Adds a database from options. The options are copied when <see cref="Build"/> runs.</summary>
    public SwitchboardCatalogBuilder AddDatabase(string name, DatabaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfBuilt();
        _databases.Add((name, options));
        return this;
    }

    /// <summary>
    /// Adds every database of a configuration section shaped like <c>{ "orders": { "Url": "…" }, … }</c>
    /// (the <c>Databases</c> section of appsettings.json or switchboard.json).
    /// </summary>
    public SwitchboardCatalogBuilder AddConfiguration(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        ThrowIfBuilt();
        DatabaseOptionsReader.Read(section, _extensionKeys, _databases, _readProblems);
        return this;
    }

    /// <summary>Declares a per-database configuration key owned by a feature package, so it is not reported as unknown.</summary>
    public SwitchboardCatalogBuilder AllowConfigurationKey(string key)
    {
        ThrowIfBuilt();
        _extensionKeys.Add(key);
        return this;
    }

    /// <summary>Adds (or replaces, for its aliases) a dialect.</summary>
    public SwitchboardCatalogBuilder AddDialect(Dialect dialect)
    {
        ThrowIfBuilt();
        Dialects.Add(dialect);
        return this;
    }

    /// <summary>Configures the coordinator of distributed transactions: its log, its name, recovery at start-up.</summary>
    public SwitchboardCatalogBuilder ConfigureTransactions(Action<TransactionCoordinatorOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ThrowIfBuilt();
        configure(_transactions);
        return this;
    }

    public SwitchboardCatalogBuilder UseLoggerFactory(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ThrowIfBuilt();
        _loggerFactory = loggerFactory;
        return this;
    }

    /// <summary>Where <c>${NAME}</c> references and <see cref="DatabaseOptions.PasswordEnvironmentVariable"/> are looked up (tests).</summary>
    public SwitchboardCatalogBuilder UseEnvironment(Func<string, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        ThrowIfBuilt();
        _environment = lookup;
        return this;
    }

    /// <summary>Validates every database and builds the catalog, or throws <see cref="CatalogConfigurationException"/> listing every problem.</summary>
    public SwitchboardCatalog Build()
    {
        ThrowIfBuilt();
        var problems = new List<ConfigurationProblem>(_readProblems);
        var definitions = new List<DatabaseDefinition>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, options) in _databases)
        {
            var nameProblem = !IsValidName(name) ? "a database name must be 1-64 letters, digits, '_', '-' or '.'"
                : !seen.Add(name) ? "configured twice (names are case-insensitive)"
                : null;
            if (nameProblem is not null)
            {
                problems.Add(new(name, "(name)", nameProblem));
            }

            // An entry with a bad name is still checked, so that all its problems are listed at once.
            var definition = Validate(name, options, problems);
            if (definition is not null && nameProblem is null)
            {
                definitions.Add(definition);
            }
        }

        var transactions = TransactionSettings.Create(_transactions, seen, Dialects, problems);
        ValidateRouters(definitions, problems);
        var attachShardsAndTenants = BuildShardsAndTenants(definitions, problems);
        if (problems.Count > 0)
        {
            // Grouped by database, in a stable order, so a long list reads like the configuration file.
            throw new CatalogConfigurationException([.. problems.OrderBy(p => p.Database, StringComparer.OrdinalIgnoreCase)]);
        }

        _built = true;
        var catalog = new SwitchboardCatalog(definitions, _loggerFactory, transactions) { Routers = BuildRouterChain() };
        attachShardsAndTenants(catalog);
        return catalog;
    }

    private DatabaseDefinition? Validate(string name, DatabaseOptions options, List<ConfigurationProblem> problems)
    {
        var before = problems.Count;
        void Problem(string key, string message) => problems.Add(new(name, key, message));

        var hasUrl = !string.IsNullOrWhiteSpace(options.Url);
        var hasConnectionString = !string.IsNullOrWhiteSpace(options.ConnectionString);
        if (hasUrl == hasConnectionString)
        {
            Problem(hasUrl ? "ConnectionString" : "Url", hasUrl
                ? "give either Url or ConnectionString, not both"
                : "no Url or ConnectionString (for example \"Url\": \"postgresql://user@host/db\" or \"sqlite:///app.db\")");
            return null;
        }

        var missing = new List<string>();
        DatabaseUrl? url = null;
        string? alias = options.Provider?.Trim();
        string? connectionString = null;
        if (hasUrl)
        {
            var expanded = EnvironmentReferences.Expand(options.Url!, _environment, missing, percentEncode: true)!;
            var incomplete = missing.Count > 0;
            ReportMissing("Url", missing, problems, name);
            if (incomplete)
            {
                // The URL is incomplete; how it fails to parse would only repeat that.
                url = null;
            }
            else if (!DatabaseUrl.TryParse(expanded, out url, out var error))
            {
                Problem("Url", error!.Message);
            }
            else if (alias is { Length: > 0 } && !string.Equals(alias, url!.Backend, StringComparison.OrdinalIgnoreCase))
            {
                // Both name a dialect: they must agree (checked once the dialects are resolved below).
                if (Dialects.TryResolve(alias, out var byProvider, out _) && Dialects.TryResolve(url.Backend, out var byUrl, out _)
                    && byProvider != byUrl)
                {
                    Problem("Provider", $"'{alias}' disagrees with the URL's scheme '{url.Backend}'");
                }
            }

            alias = url?.Backend;
        }
        else
        {
            connectionString = EnvironmentReferences.Expand(options.ConnectionString, _environment, missing, percentEncode: false);
            ReportMissing("ConnectionString", missing, problems, name);
            if (string.IsNullOrWhiteSpace(alias))
            {
                Problem("Provider", "a ConnectionString needs a Provider (postgresql, mysql or sqlite)");
            }
        }

        Dialect? dialect = null;
        if (alias is { Length: > 0 } && !Dialects.TryResolve(alias, out dialect, out var dialectProblem))
        {
            Problem(hasUrl ? "Url" : "Provider", dialectProblem);
        }

        var password = options.Password;
        if (!string.IsNullOrEmpty(options.PasswordEnvironmentVariable))
        {
            password = _environment(options.PasswordEnvironmentVariable);
            if (password is null)
            {
                Problem("PasswordEnvironmentVariable", $"environment variable '{options.PasswordEnvironmentVariable}' is not set");
            }
        }

        var pool = ValidatePool(options.Pool, Problem);
        if (options.TwoPhaseCommit == true && dialect is { SupportsTwoPhaseCommit: false })
        {
            Problem("TwoPhaseCommit", $"{dialect.Name} cannot prepare transactions; it can join a distributed transaction only as the last resource");
        }

        var commandTimeout = options.CommandTimeout ?? DefaultCommandTimeout;
        var connectTimeout = options.ConnectTimeout ?? DefaultConnectTimeout;
        if (commandTimeout <= TimeSpan.Zero)
        {
            Problem("CommandTimeout", "must be positive");
        }

        if (connectTimeout <= TimeSpan.Zero)
        {
            Problem("ConnectTimeout", "must be positive");
        }

        var providerOptions = new List<KeyValuePair<string, string>>();
        if (url is not null)
        {
            providerOptions.AddRange(url.Query);
        }

        foreach (var kv in options.Options)
        {
            providerOptions.RemoveAll(p => string.Equals(p.Key, kv.Key, StringComparison.OrdinalIgnoreCase));
            providerOptions.Add(kv);
        }

        var routing = RoutingValidation.ValidateOptions(name, options, problems);
        if (dialect is null || problems.Count > before)
        {
            if (dialect is not null)
            {
                RoutingValidation.CheckReplicaEntries(name, options, dialect, _environment, problems);
            }

            return null;
        }

        var request = new ConnectionRequest(name, url, connectionString, password, pool, commandTimeout, connectTimeout, providerOptions);
        var dialectProblems = new List<string>();
        ConnectionSettings? settings;
        try
        {
            settings = dialect.CreateSettings(request, dialectProblems);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            // Driver builders reject bad keys with exceptions whose text may echo a value: keep only secret-free text.
            var secrets = password is null ? [] : new List<string> { password };
            if (url?.Password is { } p)
            {
                secrets.Add(p);
            }

            dialectProblems.Add(SecretMasker.Scrub(e.Message, secrets));
            settings = null;
        }

        foreach (var message in dialectProblems)
        {
            // A problem with an Options entry is filed under that entry, not under the URL it was merged into.
            var option = options.Options.Keys.FirstOrDefault(k => message.StartsWith($"option '{k}'", StringComparison.Ordinal)
                || message.StartsWith($"unknown option '{k}'", StringComparison.Ordinal) || message.StartsWith($"{k} '", StringComparison.Ordinal));
            Problem(option is not null ? "Options:" + option : hasUrl ? "Url" : "ConnectionString", message);
        }

        if (settings is null || dialectProblems.Count > 0)
        {
            RoutingValidation.CheckReplicaEntries(name, options, dialect, _environment, problems);
            return null;
        }

        var hosts = RoutingValidation.ResolveHosts(name, options, dialect, settings, _environment, problems);
        return problems.Count > before
            ? null
            : new DatabaseDefinition(name, dialect, settings, pool, commandTimeout, connectTimeout, providerOptions, options.TwoPhaseCommit)
            {
                Routing = hosts is null ? null : routing! with { Hosts = hosts },
            };
    }

    private static PoolSettings ValidatePool(PoolOptions options, Action<string, string> problem)
    {
        var d = PoolSettings.Default;
        var pool = new PoolSettings(
            options.MaxSize ?? d.MaxSize,
            options.MinIdle ?? d.MinIdle,
            options.ConnectionLifetime ?? d.ConnectionLifetime,
            options.CheckoutTimeout ?? d.CheckoutTimeout,
            options.PrePing ?? d.PrePing);
        if (pool.MaxSize < 1)
        {
            problem("Pool:MaxSize", $"must be at least 1 (is {pool.MaxSize})");
        }

        if (pool.MinIdle < 0 || (pool.MaxSize >= 1 && pool.MinIdle > pool.MaxSize))
        {
            problem("Pool:MinIdle", $"must be between 0 and Pool:MaxSize ({pool.MaxSize}), is {pool.MinIdle}");
        }

        if (pool.CheckoutTimeout <= TimeSpan.Zero)
        {
            problem("Pool:CheckoutTimeout", "must be positive");
        }

        if (pool.ConnectionLifetime is { } life && life <= TimeSpan.Zero)
        {
            problem("Pool:ConnectionLifetime", "must be positive");
        }

        return pool;
    }

    private static void ReportMissing(string key, List<string> missing, List<ConfigurationProblem> problems, string name)
    {
        foreach (var variable in missing.Distinct())
        {
            problems.Add(new(name, key, $"environment variable '{variable}' referenced as ${{{variable}}} is not set"));
        }

        missing.Clear();
    }

    private static bool IsValidName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.');

    private void ThrowIfBuilt()
    {
        if (_built)
        {
            throw new InvalidOperationException("This builder has already built a catalog; create a new builder to change the configuration.");
        }
    }
}
