using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Switchboard.Sqlite;

/// <summary>
/// Microsoft.Data.Sqlite has no data source of its own. This one prepares the file on first use (folder, journal mode),
/// keeps an in-memory database alive while the engine lives, and clears its pool when disposed so files are released.
/// </summary>
internal sealed class SqliteDataSource : DbDataSource
{
    private readonly string _connectionString;
    private readonly SqliteConnection? _memoryKeeper;

    private readonly string? _folder;
    private volatile bool _folderReady;

    public SqliteDataSource(DatabaseDefinition definition)
    {
        _connectionString = definition.Connection.ConnectionString;
        var builder = new SqliteConnectionStringBuilder(_connectionString);
        if (builder.Mode == SqliteOpenMode.Memory)
        {
            _memoryKeeper = new SqliteConnection(_connectionString);
            _memoryKeeper.Open();
            _folderReady = true;
            return;
        }

        // The folder of a new file is created on first use (not here, so that a failure surfaces as a connection error).
        _folder = builder.Mode is SqliteOpenMode.ReadWriteCreate ? Path.GetDirectoryName(builder.DataSource) : null;
        _folderReady = string.IsNullOrEmpty(_folder);
    }

    public override string ConnectionString => _connectionString;

    public bool IsMemory => _memoryKeeper is not null;

    protected override DbConnection CreateDbConnection()
    {
        if (!_folderReady)
        {
            Directory.CreateDirectory(_folder!);
            _folderReady = true;
        }

        return new SqliteConnection(_connectionString);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            using (var connection = new SqliteConnection(_connectionString))
            {
                SqliteConnection.ClearPool(connection);
            }

            _memoryKeeper?.Dispose();
        }

        base.Dispose(disposing);
    }

    protected override ValueTask DisposeAsyncCore()
    {
        Dispose(true);
        return base.DisposeAsyncCore();
    }
}
