using Microsoft.Extensions.Configuration;
using Switchboard.Sharding;
using Switchboard.Tenants;

namespace Switchboard;

public sealed partial class SwitchboardCatalogBuilder
{
    private const int DefaultTenantPoolSize = 5;

    private readonly List<(string Name, TenantSetOptions Options)> _tenantSets = [];

    /// <summary>Adds a tenant set whose databases come from a URL template with <c>{tenant}</c>.</summary>
    public SwitchboardCatalogBuilder AddTenants(string name, string urlTemplate, Action<TenantSetOptions>? configure = null)
    {
        var options = new TenantSetOptions { Url = urlTemplate };
        configure?.Invoke(options);
        return AddTenants(name, options);
    }

    /// <summary>Adds a tenant set. The options are validated and copied when <see cref="Build"/> runs.</summary>
    public SwitchboardCatalogBuilder AddTenants(string name, TenantSetOptions options)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfBuilt();
        _tenantSets.Add((name, options));
        return this;
    }

    /// <summary>
    /// Adds every tenant set of a configuration section shaped like
    /// <c>{ "customers": { "Url": "postgresql://app@db/tenant_{tenant}", "MaxOpenConnections": 32 } }</c>
    /// (the <c>Tenants</c> section, a sibling of <c>Databases</c>).
    /// </summary>
    public SwitchboardCatalogBuilder AddTenantConfiguration(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        ThrowIfBuilt();
        TenantSetOptionsReader.Read(section, _tenantSets, _readProblems);
        return this;
    }

    /// <summary>Validates shard maps and tenant sets with the databases; returns how to attach them to the built catalog.</summary>
    private Action<SwitchboardCatalog> BuildShardsAndTenants(List<DatabaseDefinition> definitions, List<ConfigurationProblem> problems)
    {
        var names = definitions.Select(d => d.Name).ToList();
        var maps = ValidateShardMaps(names, problems);
        var sets = ValidateTenantSets(names, problems);
        return catalog =>
        {
            catalog.AttachShardMaps(maps.Select(f => f(catalog)));
            var limiters = new Dictionary<string, ConnectionLimiter>(StringComparer.OrdinalIgnoreCase);
            catalog.AttachTenantSets(sets.Select(s =>
            {
                var key = s.Group is null ? "set:" + s.Settings.Name : "group:" + s.Group;
                if (!limiters.TryGetValue(key, out var limiter))
                {
                    limiter = new ConnectionLimiter(s.Group ?? s.Settings.Name, s.Limit);
                    limiters.Add(key, limiter);
                }

                return new TenantSet(catalog, s.Settings, limiter, Validate);
            }), limiters.Values);
        };
    }

    private List<(TenantSetSettings Settings, int Limit, string? Group)> ValidateTenantSets(IReadOnlyCollection<string> databases,
        List<ConfigurationProblem> problems)
    {
        var result = new List<(TenantSetSettings, int, string?)>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var groups = new Dictionary<string, (string Set, int Limit)>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, options) in _tenantSets)
        {
            var path = "Tenants:" + name;
            var before = problems.Count;
            void Problem(string key, string message) => problems.Add(new(path, key, message));
            if (!IsValidName(name))
            {
                Problem("(name)", "a tenant set name must be 1-64 letters, digits, '_', '-' or '.'");
                continue;
            }

            if (!seen.Add(name))
            {
                Problem("(name)", "configured twice (names are case-insensitive)");
                continue;
            }

            var pool = new PoolOptions
            {
                MaxSize = options.Pool.MaxSize ?? DefaultTenantPoolSize,
                MinIdle = options.Pool.MinIdle,
                ConnectionLifetime = options.Pool.ConnectionLifetime,
                CheckoutTimeout = options.Pool.CheckoutTimeout,
                PrePing = options.Pool.PrePing,
            };
            TenantDirectorySettings? directory = null;
            var hasUrl = !string.IsNullOrWhiteSpace(options.Url);
            if (hasUrl == (options.Directory is not null))
            {
                Problem(hasUrl ? "Directory" : "Url", hasUrl
                    ? "give either a Url template or a Directory, not both"
                    : "no Url template (for example \"postgresql://app@db/tenant_{tenant}\" or \"sqlite:///tenants/{tenant}.db\") or Directory");
            }
            else if (hasUrl && !options.Url!.Contains(TenantSetSettings.Placeholder, StringComparison.Ordinal))
            {
                Problem("Url", "the URL template has no {tenant} placeholder, so every tenant would share one database");
            }
            else if (options.Directory is { } d)
            {
                directory = ValidateDirectory(d, databases, Problem);
            }

            if (options.MaxOpenConnections < 1)
            {
                Problem("MaxOpenConnections", $"must be at least 1 (is {options.MaxOpenConnections})");
            }

            if (options.MaxEngines < 1)
            {
                Problem("MaxEngines", $"must be at least 1 (is {options.MaxEngines})");
            }

            if (options.IdleTimeout <= TimeSpan.Zero)
            {
                Problem("IdleTimeout", "must be positive");
            }

            if (options.ConnectionLimitGroup is { } group)
            {
                if (groups.TryGetValue(group, out var first) && first.Limit != options.MaxOpenConnections)
                {
                    Problem("MaxOpenConnections", $"{options.MaxOpenConnections} differs from {first.Limit} of tenant set '{first.Set}' in the same ConnectionLimitGroup '{group}'");
                }
                else
                {
                    groups.TryAdd(group, (name, options.MaxOpenConnections));
                }
            }

            var settings = new TenantSetSettings(name, options.Url?.Trim(), directory, options.Password, options.PasswordEnvironmentVariable,
                options.CommandTimeout, options.ConnectTimeout, pool, new Dictionary<string, string>(options.Options, StringComparer.OrdinalIgnoreCase),
                options.MaxEngines, options.IdleTimeout, options.Template, options.Schema, options.MaintenanceDatabase);

            // A URL template is checked now, with a sample tenant, so that a typo fails at start-up like any database's.
            if (hasUrl && problems.Count == before)
            {
                var sample = new List<ConfigurationProblem>();
                var definition = Validate(name + "/sample", settings.DatabaseOptionsFor(settings.UrlTemplate!.Replace(TenantSetSettings.Placeholder, "sample",
                    StringComparison.Ordinal)), sample);
                problems.AddRange(sample.Select(p => p with { Database = path }));
                if (definition?.Dialect is { } dialect)
                {
                    // Options that could only fail later, at the first CreateAsync.
                    if (!dialect.SupportsDatabaseCreation && (options.Template is not null || options.Schema is not null))
                    {
                        Problem(options.Template is not null ? "Template" : "Schema", $"the {dialect.Name} dialect cannot create databases, so CreateAsync cannot use it");
                    }
                    else if (!dialect.SupportsDatabaseTemplates && options.Template is not null)
                    {
                        Problem("Template", $"{dialect.Name} has no template databases: put the tables in Schema instead");
                    }
                }
            }

            if (problems.Count == before)
            {
                result.Add((settings, options.MaxOpenConnections, options.ConnectionLimitGroup));
            }
        }

        return result;
    }

    private static TenantDirectorySettings? ValidateDirectory(TenantDirectoryOptions directory, IReadOnlyCollection<string> databases, Action<string, string> problem)
    {
        var database = databases.FirstOrDefault(n => string.Equals(n, directory.Database, StringComparison.OrdinalIgnoreCase));
        var ok = true;
        if (database is null)
        {
            problem("Directory:Database", string.IsNullOrWhiteSpace(directory.Database)
                ? "no database named"
                : $"no database named '{directory.Database}' in the catalog");
            ok = false;
        }

        ok &= CheckIdentifier(directory.Table, "Directory:Table", problem, qualified: true);
        ok &= CheckIdentifier(directory.KeyColumn, "Directory:KeyColumn", problem, qualified: false);
        ok &= CheckIdentifier(directory.UrlColumn, "Directory:UrlColumn", problem, qualified: false);
        if (directory.CacheTtl < TimeSpan.Zero)
        {
            problem("Directory:CacheTtl", "must not be negative");
            ok = false;
        }

        if (directory.CacheSize < 1)
        {
            problem("Directory:CacheSize", $"must be at least 1 (is {directory.CacheSize})");
            ok = false;
        }

        return ok
            ? new TenantDirectorySettings(database!, directory.Table!, directory.KeyColumn, directory.UrlColumn, directory.CacheTtl, directory.CacheSize)
            : null;
    }
}
