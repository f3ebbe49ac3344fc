using System.Data.Common;

namespace Switchboard.Dialects;

/// <summary>SQL of directory tables (a shard map's lookup table, a tenant set's catalog table).</summary>
public abstract partial class Dialect
{
    /// <summary>
    /// A query returning <paramref name="valueColumn"/> of the row whose <paramref name="keyColumn"/> equals the parameter
    /// <c>@key</c>. The names were checked to be plain (optionally schema-qualified) identifiers.
    /// </summary>
    public virtual string DirectoryLookupSql(string table, string keyColumn, string valueColumn) =>
        $"SELECT {valueColumn} FROM {table} WHERE {keyColumn} = @key";

    /// <summary>An insert of one directory row from the parameters <c>@key</c> and <c>@value</c>.</summary>
    public virtual string DirectoryInsertSql(string table, string keyColumn, string valueColumn) =>
        $"INSERT INTO {table} ({keyColumn}, {valueColumn}) VALUES (@key, @value)";

    /// <summary>A statement changing the value of one directory row (<c>@key</c>, <c>@value</c>).</summary>
    public virtual string DirectoryUpdateSql(string table, string keyColumn, string valueColumn) =>
        $"UPDATE {table} SET {valueColumn} = @value WHERE {keyColumn} = @key";

    /// <summary>
    /// Makes cancelling <paramref name="cancellationToken"/> stop the statement running on <paramref name="connection"/>,
    /// for drivers that only check the token between steps. Dispose the result before the connection is returned.
    /// Default: nothing (the driver honours the token itself).
    /// </summary>
    public virtual IDisposable? InterruptOnCancel(DbConnection connection, CancellationToken cancellationToken) => null;

    /// <summary>
    /// Whether the driver stops a running statement at its command timeout and when its token is cancelled. When not
    /// (SQLite), sessions interrupt it themselves through <see cref="InterruptOnCancel"/>.
    /// </summary>
    public virtual bool StopsRunningStatements => true;

    /// <summary>
    /// Whether the driver stops a running statement when its token is cancelled, even where it does not at its command
    /// timeout (MySql.Data: it sends KILL QUERY itself). When not, sessions and fan-outs interrupt it on cancellation too.
    /// Default: as <see cref="StopsRunningStatements"/>.
    /// </summary>
    public virtual bool StopsCancelledStatements => StopsRunningStatements;

    /// <summary>
    /// The command timeout given to the driver for a session helper's statement. A dialect whose sessions stop statements
    /// themselves at the command timeout gives the driver a later one, as a backstop. Default: the command timeout.
    /// </summary>
    public virtual TimeSpan DriverCommandTimeout(TimeSpan commandTimeout) => commandTimeout;
}
