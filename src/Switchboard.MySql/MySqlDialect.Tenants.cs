using System.Data.Common;
using Switchboard.Dialects;

namespace Switchboard.MySql;

/// <summary>
/// CREATE/DROP DATABASE for tenant databases, on a connection to the same server that names no database. MySQL and
/// MariaDB have no template databases: a tenant's tables come from the tenant set's <c>Schema</c>.
/// </summary>
public sealed partial class MySqlDialect
{
    public override bool SupportsDatabaseCreation => true;

    public override bool SupportsDatabaseTemplates => false;

    /// <summary>MySQL and MariaDB refuse longer database names (they do not truncate them, but a clear error up front is kinder).</summary>
    public override int? MaxDatabaseNameLength => 64;

    public override async ValueTask CreateDatabaseAsync(DatabaseDefinition database, DatabaseCreation creation, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(creation);
        if (creation.Template is { Length: > 0 })
        {
            throw new NotSupportedException($"MySQL and MariaDB have no template databases (database '{database.Name}'): use the tenant set's Schema.");
        }

        var sql = "CREATE DATABASE " + QuoteIdentifier(ServerDatabaseName(database));
        await OnServerAsync(database, async c =>
        {
            await ScalarAsync(c, sql, null, "", async, cancellationToken).ConfigureAwait(false);
            return true;
        }, async, cancellationToken).ConfigureAwait(false);
    }

    public override ValueTask<bool> DropDatabaseAsync(DatabaseDefinition database, DatabaseCreation creation, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        var name = ServerDatabaseName(database);
        return OnServerAsync(database, async c =>
        {
            if (!await ExistsOnServerAsync(c, name, async, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            // Waits for the metadata locks of other sessions on the database (this process's pool is closed first).
            await ScalarAsync(c, "DROP DATABASE IF EXISTS " + QuoteIdentifier(name), null, "", async, cancellationToken).ConfigureAwait(false);
            return true;
        }, async, cancellationToken);
    }

    public override ValueTask<bool> DatabaseExistsAsync(DatabaseDefinition database, DatabaseCreation creation, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        var name = ServerDatabaseName(database);
        return OnServerAsync(database, c => ExistsOnServerAsync(c, name, async, cancellationToken), async, cancellationToken);
    }

    // A count, not the name: no utf8mb3 text to decode (see OnConnectionOpenedAsync).
    private static async ValueTask<bool> ExistsOnServerAsync(DbConnection connection, string name, bool async, CancellationToken cancellationToken) =>
        Convert.ToInt64(await ScalarAsync(connection, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = @name", name, "@name", async, cancellationToken)
            .ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) > 0;

    /// <summary>Quotes an identifier with backticks, doubling embedded ones, so any name is taken literally.</summary>
    private static string QuoteIdentifier(string name) => "`" + name.Replace("`", "``", StringComparison.Ordinal) + "`";

    /// <summary>Runs work on an unpooled connection to the database's server that names no database.</summary>
    private ValueTask<T> OnServerAsync<T>(DatabaseDefinition database, Func<DbConnection, ValueTask<T>> work, bool async, CancellationToken cancellationToken)
    {
        // Unpooled: CREATE/DROP DATABASE are rare, and an idle pooled connection would be one more outside every limit.
        var builder = _driver.Factory.CreateConnectionStringBuilder()
            ?? throw new InvalidOperationException($"{_driver.DriverName} has no connection string builder");
        builder.ConnectionString = database.Connection.ConnectionString;
        builder.Remove("Database");
        builder["Pooling"] = false;
        var connection = _driver.Factory.CreateConnection() ?? throw new InvalidOperationException($"{_driver.DriverName} returned no connection");
        connection.ConnectionString = builder.ConnectionString;
        return OnOwnConnectionAsync(connection, work, async, cancellationToken);
    }
}
