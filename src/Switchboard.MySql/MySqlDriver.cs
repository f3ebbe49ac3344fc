using System.Collections.Concurrent;
using System.Data.Common;
using System.Reflection;

namespace Switchboard.MySql;

/// <summary>
/// What the dialect needs from a MySQL ADO.NET driver, found by member name so that no driver is referenced
/// (Dapper's approach): the error number, the server thread id, and the static ClearPool. MySqlConnector and
/// MySql.Data both expose these under the same names.
/// </summary>
internal sealed class MySqlDriver
{
    private static readonly (string TypeName, string Display)[] KnownFactories =
    [
        ("MySqlConnector.MySqlConnectorFactory, MySqlConnector", "MySqlConnector"),
        ("MySql.Data.MySqlClient.MySqlClientFactory, MySql.Data", "MySql.Data"),
    ];

    private readonly ConcurrentDictionary<Type, Func<DbConnection, int>?> _threadIds = new();
    private readonly ConcurrentDictionary<Type, Action<DbConnection>?> _clearPools = new();
    private readonly ConcurrentDictionary<Type, Func<Exception, int?>?> _errorNumbers = new();

    public MySqlDriver(DbProviderFactory factory)
    {
        Factory = factory;
        var assembly = factory.GetType().Assembly.GetName().Name ?? "";

        // MySql.Data does not know MariaDB's utf8mb3 result charset (information_schema, string system variables):
        // it needs character_set_results switched to utf8mb4 on each physical connection. MySqlConnector does not.
        NeedsResultCharsetFix = assembly.Equals("MySql.Data", StringComparison.OrdinalIgnoreCase);

        // MySql.Data's "async" methods run synchronously (see MySqlDialect.OpenAsync).
        BlocksOnOpen = NeedsResultCharsetFix;
        DriverName = assembly;
    }

    public DbProviderFactory Factory { get; }

    public string DriverName { get; }

    public bool NeedsResultCharsetFix { get; }

    /// <summary>Whether opening a connection blocks its thread even when called asynchronously (MySql.Data).</summary>
    public bool BlocksOnOpen { get; }

    /// <summary>The first MySQL driver found among the application's dependencies, or null.</summary>
    public static DbProviderFactory? Discover()
    {
        foreach (var (typeName, _) in KnownFactories)
        {
            var type = Type.GetType(typeName, throwOnError: false);
            if (type?.GetField("Instance", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) is DbProviderFactory factory)
            {
                return factory;
            }
        }

        return null;
    }

    /// <summary>The server's id of the physical connection (stable while the pool reuses it), or null if unknown.</summary>
    public int? ServerThreadId(DbConnection connection)
    {
        var getter = _threadIds.GetOrAdd(connection.GetType(), static t =>
        {
            var property = t.GetProperty("ServerThread", BindingFlags.Public | BindingFlags.Instance);
            return property?.PropertyType == typeof(int) ? c => (int)property.GetValue(c)! : null;
        });
        return getter?.Invoke(connection);
    }

    public void ClearPool(DbConnection connection)
    {
        var clear = _clearPools.GetOrAdd(connection.GetType(), static t =>
        {
            var method = t.GetMethod("ClearPool", BindingFlags.Public | BindingFlags.Static, [t]);
            return method is null ? null : c => method.Invoke(null, [c]);
        });
        clear?.Invoke(connection);
    }

    /// <summary>The server error number of a driver exception (MySqlException.Number in both drivers).</summary>
    public int? ErrorNumber(Exception exception)
    {
        var getter = _errorNumbers.GetOrAdd(exception.GetType(), static t =>
        {
            var property = t.GetProperty("Number", BindingFlags.Public | BindingFlags.Instance);
            return property?.PropertyType == typeof(int) ? e => (int)property.GetValue(e)! : null;
        });
        return getter?.Invoke(exception);
    }
}
