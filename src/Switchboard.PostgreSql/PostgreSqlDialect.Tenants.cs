using System.Data.Common;
using Npgsql;
using Switchboard.Dialects;

namespace Switchboard.PostgreSql;

/// <summary>CREATE/DROP DATABASE for tenant databases, run on the maintenance database of the same server.</summary>
public sealed partial class PostgreSqlDialect
{
    public override bool SupportsDatabaseCreation => true;

    /// <summary>NAMEDATALEN - 1: PostgreSQL truncates longer identifiers (with only a NOTICE).</summary>
    public override int? MaxDatabaseNameLength => 63;

    public override async ValueTask CreateDatabaseAsync(DatabaseDefinition database, DatabaseCreation creation, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(creation);
        var sql = "CREATE DATABASE " + QuoteIdentifier(ServerDatabaseName(database));
        if (creation.Template is { Length: > 0 } template)
        {
            sql += " TEMPLATE " + QuoteIdentifier(template);
        }

        await OnMaintenanceAsync(database, creation, async c =>
        {
            await ScalarAsync(c, sql, null, "", async, cancellationToken).ConfigureAwait(false);
            return true;
        }, async, cancellationToken).ConfigureAwait(false);
    }

    public override ValueTask<bool> DropDatabaseAsync(DatabaseDefinition database, DatabaseCreation creation, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(creation);
        var name = ServerDatabaseName(database);
        return OnMaintenanceAsync(database, creation, async c =>
        {
            if (await ScalarAsync(c, ExistsSql, name, "", async, cancellationToken).ConfigureAwait(false) is null)
            {
                return false;
            }

            // WITH (FORCE) (PostgreSQL 13+) ends other sessions on it, so a tenant being dropped cannot block the drop.
            await ScalarAsync(c, "DROP DATABASE IF EXISTS " + QuoteIdentifier(name) + " WITH (FORCE)", null, "", async, cancellationToken).ConfigureAwait(false);
            return true;
        }, async, cancellationToken);
    }

    public override ValueTask<bool> DatabaseExistsAsync(DatabaseDefinition database, DatabaseCreation creation, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(creation);
        var name = ServerDatabaseName(database);
        return OnMaintenanceAsync(database, creation,
            async c => await ScalarAsync(c, ExistsSql, name, "", async, cancellationToken).ConfigureAwait(false) is not null, async, cancellationToken);
    }

    public override void ClearIdleConnections(DbDataSource dataSource)
    {
        if (dataSource is NpgsqlDataSource npgsql)
        {
            npgsql.Clear();
        }
        else
        {
            base.ClearIdleConnections(dataSource);
        }
    }

    /// <summary>Quotes an identifier, doubling embedded quotes, so any name is taken literally.</summary>
    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private const string ExistsSql = "SELECT 1 FROM pg_database WHERE datname = $1";

    /// <summary>Runs work on an unpooled connection to the server's maintenance database.</summary>
    private ValueTask<T> OnMaintenanceAsync<T>(DatabaseDefinition database, DatabaseCreation creation,
        Func<DbConnection, ValueTask<T>> work, bool async, CancellationToken cancellationToken)
    {
        // Unpooled: CREATE/DROP DATABASE are rare, and a pooled idle connection to the maintenance database would be
        // one more server connection outside every limit.
        var builder = new NpgsqlConnectionStringBuilder(database.Connection.ConnectionString)
        {
            Database = creation.MaintenanceDatabase ?? "postgres",
            Pooling = false,
        };
        return OnOwnConnectionAsync(new NpgsqlConnection(builder.ConnectionString), work, async, cancellationToken);
    }
}
