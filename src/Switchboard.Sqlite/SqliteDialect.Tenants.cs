using Microsoft.Data.Sqlite;
using Switchboard.Dialects;

namespace Switchboard.Sqlite;

/// <summary>
/// A SQLite "database server" is a folder: creating a database claims a new file (atomically, so two creators cannot
/// both succeed) and fills it from a template file with SQLite's online backup, which reads a consistent snapshot even
/// while the template is in use. Dropping deletes the file with its -wal, -shm and -journal companions.
/// </summary>
public sealed partial class SqliteDialect
{
    private static readonly string[] CompanionSuffixes = ["-wal", "-shm", "-journal"];

    public override bool SupportsDatabaseCreation => true;

    public override ValueTask CreateDatabaseAsync(DatabaseDefinition database, DatabaseCreation creation, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(creation);
        cancellationToken.ThrowIfCancellationRequested();
        var path = FilePath(database);
        string? template = null;
        if (creation.Template is { Length: > 0 } t)
        {
            template = Path.GetFullPath(t);
            if (!File.Exists(template))
            {
                throw new FileNotFoundException($"The template file of database '{database.Name}' does not exist: {template}", template);
            }
        }

        if (Path.GetDirectoryName(path) is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
        }

        // CreateNew fails if the file exists: the claim is atomic. SQLite treats an empty file as a new database.
        using (new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite))
        {
        }

        try
        {
            using var target = new SqliteConnection(Unpooled(path, SqliteOpenMode.ReadWrite));
            target.Open();
            if (template is not null)
            {
                using var source = new SqliteConnection(Unpooled(template, SqliteOpenMode.ReadOnly));
                source.Open();
                source.BackupDatabase(target);
            }
        }
        catch
        {
            DeleteFiles(path);
            throw;
        }

        return default;
    }

    public override ValueTask<bool> DropDatabaseAsync(DatabaseDefinition database, DatabaseCreation creation, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        cancellationToken.ThrowIfCancellationRequested();
        var path = FilePath(database);

        // Pooled handles of this file would keep the deleted inode alive (and its data readable): close them first.
        using (var connection = new SqliteConnection(database.Connection.ConnectionString))
        {
            SqliteConnection.ClearPool(connection);
        }

        var existed = File.Exists(path);
        DeleteFiles(path);
        return new(existed);
    }

    public override ConnectionSettings OpenExistingOnly(DatabaseDefinition database)
    {
        ArgumentNullException.ThrowIfNull(database);
        var settings = database.Connection;
        var builder = new SqliteConnectionStringBuilder(settings.ConnectionString);
        if (builder.Mode != SqliteOpenMode.ReadWriteCreate
            || database.ProviderOptions.Any(o => string.Equals(o.Key, "mode", StringComparison.OrdinalIgnoreCase)))
        {
            return settings; // a mode the URL chose is kept (mode=rwc: tenants are created on first use)
        }

        builder.Mode = SqliteOpenMode.ReadWrite;
        return settings with { ConnectionString = builder.ConnectionString };
    }

    public override ValueTask<bool> DatabaseExistsAsync(DatabaseDefinition database, DatabaseCreation creation, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        return new(File.Exists(FilePath(database)));
    }

    private static string FilePath(DatabaseDefinition database) =>
        database.Connection.Database is { Length: > 0 } path && path != ":memory:"
            ? path
            : throw new InvalidOperationException($"Database '{database.Name}' is an in-memory SQLite database: there is no file to create or drop.");

    private static string Unpooled(string path, SqliteOpenMode mode) =>
        new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ConnectionString;

    private static void DeleteFiles(string path)
    {
        File.Delete(path);
        foreach (var suffix in CompanionSuffixes)
        {
            File.Delete(path + suffix);
        }
    }
}
