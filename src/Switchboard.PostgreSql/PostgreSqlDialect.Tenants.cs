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
        var name = DatabaseName(database);
        var sql = "CREATE DATABASE " + QuoteIdentifier(name);
        if (creation.Template is { Length: > 0 } template)
        {
            sql += " TEMPLATE " + QuoteIdentifier(template);
        }

        await RunOnMaintenanceAsync(database, creation, sql, null, async, cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask<bool> DropDatabaseAsync(DatabaseDefinition database, DatabaseCreation creation, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(creation);
        if (!await DatabaseExistsAsync(database, creation, async, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        // WITH (FORCE) (PostgreSQL 13+) ends other sessions on it, so a tenant being dropped cannot block the drop.
        var sql = "DROP DATABASE IF EXISTS " + QuoteIdentifier(DatabaseName(database)) + " WITH (FORCE)";
        await RunOnMaintenanceAsync(database, creation, sql, null, async, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public override async ValueTask<bool> DatabaseExistsAsync(DatabaseDefinition database, DatabaseCreation creation, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(creation);
        var found = await RunOnMaintenanceAsync(database, creation, "SELECT 1 FROM pg_database WHERE datname = $1", DatabaseName(database),
            async, cancellationToken).ConfigureAwait(false);
        return found is not null;
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

    private static string DatabaseName(DatabaseDefinition database) =>
        database.Connection.Database is { Length: > 0 } name
            ? name
            : throw new InvalidOperationException($"Database '{database.Name}' names no database on the server, so it cannot be created or dropped.");

    /// <summary>Quotes an identifier, doubling embedded quotes, so any name is taken literally.</summary>
    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static async ValueTask<object?> RunOnMaintenanceAsync(DatabaseDefinition database, DatabaseCreation creation, string sql,
        string? parameter, bool async, CancellationToken cancellationToken)
    {
        // An unpooled connection: CREATE/DROP DATABASE are rare, and a pooled idle connection to the maintenance
        // database would be one more server connection outside every limit.
        var builder = new NpgsqlConnectionStringBuilder(database.Connection.ConnectionString)
        {
            Database = creation.MaintenanceDatabase ?? "postgres",
            Pooling = false,
        };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            using var command = new NpgsqlCommand(sql, connection);
            if (parameter is not null)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = parameter });
            }

            if (!async)
            {
                connection.Open();
                return command.ExecuteScalar();
            }

            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (async)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                connection.Dispose();
            }
        }
    }
}
