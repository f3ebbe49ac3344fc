using System.Data.Common;

namespace Switchboard.Dialects;

/// <summary>Creating and dropping whole databases (a tenant's), and trimming an engine's idle connections.</summary>
public abstract partial class Dialect
{
    /// <summary>Whether <see cref="CreateDatabaseAsync"/>, <see cref="DropDatabaseAsync"/> and <see cref="DatabaseExistsAsync"/> work.</summary>
    public virtual bool SupportsDatabaseCreation => false;

    /// <summary>Whether <see cref="CreateDatabaseAsync"/> can copy a template database (<see cref="DatabaseCreation.Template"/>).</summary>
    public virtual bool SupportsDatabaseTemplates => SupportsDatabaseCreation;

    /// <summary>
    /// The longest database name (in UTF-8 bytes) the server keeps whole, or null for no limit. PostgreSQL silently
    /// truncates longer names, which would let two tenants share one database: tenant sets refuse such ids.
    /// </summary>
    public virtual int? MaxDatabaseNameLength => null;

    /// <summary>
    /// Creates the database a definition points at (a PostgreSQL database, a SQLite file), optionally as a copy of
    /// <see cref="DatabaseCreation.Template"/>. Fails when it already exists. Driver errors are thrown as they are; the
    /// caller wraps them with the database's name.
    /// </summary>
    public virtual ValueTask CreateDatabaseAsync(DatabaseDefinition database, DatabaseCreation creation, bool async, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"The {Name} dialect cannot create databases (database '{database?.Name}').");

    /// <summary>Drops the database a definition points at, closing other sessions on it; false when it did not exist.</summary>
    public virtual ValueTask<bool> DropDatabaseAsync(DatabaseDefinition database, DatabaseCreation creation, bool async, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"The {Name} dialect cannot drop databases (database '{database?.Name}').");

    /// <summary>Whether the database a definition points at exists.</summary>
    public virtual ValueTask<bool> DatabaseExistsAsync(DatabaseDefinition database, DatabaseCreation creation, bool async, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"The {Name} dialect cannot tell whether a database exists (database '{database?.Name}').");

    /// <summary>
    /// Settings that open the database only if it exists. A tenant's database is made by
    /// <see cref="CreateDatabaseAsync"/>, never by opening it, so that a mistyped tenant id fails instead of leaving an
    /// empty database behind. Default: unchanged (servers do not create databases on connect); SQLite opens without
    /// creating unless the URL asks for it (<c>?mode=rwc</c>).
    /// </summary>
    public virtual ConnectionSettings OpenExistingOnly(DatabaseDefinition database)
    {
        ArgumentNullException.ThrowIfNull(database);
        return database.Connection;
    }

    /// <summary>The database on the server that CREATE/DROP DATABASE act on: the one the definition's connection names.</summary>
    protected static string ServerDatabaseName(DatabaseDefinition database)
    {
        ArgumentNullException.ThrowIfNull(database);
        return database.Connection.Database is { Length: > 0 } name
            ? name
            : throw new InvalidOperationException($"Database '{database.Name}' names no database on the server, so it cannot be created or dropped.");
    }

    /// <summary>
    /// Runs one maintenance statement (CREATE/DROP DATABASE, an existence query) and returns its scalar.
    /// <paramref name="parameter"/>, when given, is its one text parameter, named <paramref name="parameterName"/> (empty:
    /// bound by position, as PostgreSQL's <c>$1</c>).
    /// </summary>
    protected static async ValueTask<object?> ScalarAsync(DbConnection connection, string sql, string? parameter, string parameterName, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (parameter is not null)
        {
            var p = command.CreateParameter();
            p.ParameterName = parameterName;
            p.Value = parameter;
            command.Parameters.Add(p);
        }

        return async ? await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteScalar();
    }

    /// <summary>
    /// Opens <paramref name="connection"/> (a connection of its own, outside every pool: maintenance work such as CREATE
    /// DATABASE), runs <paramref name="work"/> on it and disposes it.
    /// </summary>
    protected async ValueTask<T> OnOwnConnectionAsync<T>(DbConnection connection, Func<DbConnection, ValueTask<T>> work, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(work);
        try
        {
            await OpenAsync(connection, async, cancellationToken).ConfigureAwait(false);
            return await work(connection).ConfigureAwait(false);
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

    /// <summary>
    /// Closes every idle physical connection in a data source's pool now, and makes connections in use close when
    /// returned. The data source stays usable. Default: the driver's per-connection pool clearing.
    /// </summary>
    public virtual void ClearIdleConnections(DbDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        using var connection = dataSource.CreateConnection();
        ClearPool(connection);
    }
}

/// <summary>How <see cref="Dialect.CreateDatabaseAsync"/> creates a database.</summary>
/// <param name="Template">
/// What to copy: a template database on the same server (PostgreSQL <c>CREATE DATABASE … TEMPLATE</c>; nobody may be
/// connected to it), or a SQLite file path. Null creates an empty database.
/// </param>
/// <param name="MaintenanceDatabase">The database to connect to for CREATE/DROP DATABASE (PostgreSQL; default <c>postgres</c>).</param>
public sealed record DatabaseCreation(string? Template = null, string? MaintenanceDatabase = null)
{
    public static DatabaseCreation Default { get; } = new();
}
