using System.Globalization;
using Microsoft.Extensions.Configuration;
using Switchboard.Sharding;

namespace Switchboard.Tenants;

/// <summary>
/// Reads tenant sets from a <c>Tenants</c> configuration section (a sibling of <c>Databases</c>). A set's entry has the
/// keys of a database entry (<c>Url</c> as a template, <c>Pool</c>, timeouts, <c>Options</c>…) plus the tenant keys.
/// </summary>
internal static class TenantSetOptionsReader
{
    private static readonly string[] TenantKeys =
        ["Directory", "MaxOpenConnections", "ConnectionLimitGroup", "MaxEngines", "IdleTimeout", "Template", "Schema", "MaintenanceDatabase"];

    private static readonly string[] DirectoryKeys = ["Database", "Table", "KeyColumn", "UrlColumn", "CacheTtl", "CacheSize"];

    public static void Read(IConfiguration section, List<(string Name, TenantSetOptions Options)> into, List<ConfigurationProblem> problems)
    {
        // The database keys are read by the databases' own reader, so both report misspellings the same way.
        var databases = new List<(string Name, DatabaseOptions Options)>();
        var databaseProblems = new List<ConfigurationProblem>();
        DatabaseOptionsReader.Read(section, TenantKeys, databases, databaseProblems);
        problems.AddRange(databaseProblems.Select(p => p with { Database = "Tenants:" + p.Database }));
        foreach (var (name, database) in databases)
        {
            var path = "Tenants:" + name;
            void Problem(string key, string message) => problems.Add(new(path, key, message));
            var options = new TenantSetOptions
            {
                Url = database.Url,
                Password = database.Password,
                PasswordEnvironmentVariable = database.PasswordEnvironmentVariable,
                CommandTimeout = database.CommandTimeout,
                ConnectTimeout = database.ConnectTimeout,
                Pool = database.Pool,
                Options = database.Options,
            };
            if (database.Provider is not null || database.ConnectionString is not null)
            {
                Problem(database.Provider is not null ? "Provider" : "ConnectionString", "a tenant set takes a Url template (or a Directory), not a connection string");
            }

            var set = section.GetSection(name);
            foreach (var child in set.GetChildren())
            {
                switch (child.Key.ToLowerInvariant())
                {
                    case "maxopenconnections": options.MaxOpenConnections = ReadInt(child, Problem) ?? options.MaxOpenConnections; break;
                    case "maxengines": options.MaxEngines = ReadInt(child, Problem) ?? options.MaxEngines; break;
                    case "connectionlimitgroup": options.ConnectionLimitGroup = child.Value; break;
                    case "idletimeout": options.IdleTimeout = ReadDuration(child, child.Key, Problem) ?? options.IdleTimeout; break;
                    case "template": options.Template = child.Value; break;
                    case "schema": options.Schema = child.Value; break;
                    case "maintenancedatabase": options.MaintenanceDatabase = child.Value; break;
                    case "directory": options.Directory = ReadDirectory(child, Problem); break;
                    default: break; // database keys, read above
                }
            }

            into.Add((name, options));
        }
    }

    private static TenantDirectoryOptions ReadDirectory(IConfigurationSection section, Action<string, string> problem)
    {
        var directory = new TenantDirectoryOptions();
        foreach (var child in section.GetChildren())
        {
            var key = "Directory:" + child.Key;
            switch (child.Key.ToLowerInvariant())
            {
                case "database": directory.Database = child.Value; break;
                case "table": directory.Table = child.Value; break;
                case "keycolumn": directory.KeyColumn = child.Value ?? ""; break;
                case "urlcolumn": directory.UrlColumn = child.Value ?? ""; break;
                case "cachettl": directory.CacheTtl = ReadDuration(child, key, problem) ?? directory.CacheTtl; break;
                case "cachesize": directory.CacheSize = ReadInt(child, problem, key) ?? directory.CacheSize; break;
                default: problem(key, ShardMapOptionsReader.UnknownKey(child.Key, DirectoryKeys)); break;
            }
        }

        return directory;
    }

    private static int? ReadInt(IConfigurationSection child, Action<string, string> problem, string? key = null)
    {
        if (int.TryParse(child.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        problem(key ?? child.Key, $"'{child.Value}' is not a whole number");
        return null;
    }

    private static TimeSpan? ReadDuration(IConfigurationSection child, string key, Action<string, string> problem)
    {
        if (Durations.TryParse(child.Value, out var value))
        {
            return value;
        }

        problem(key, $"'{child.Value}' is not a duration (write 30, 30s, 500ms, 2m or 00:00:30)");
        return null;
    }
}
