using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using MySql.Data.MySqlClient;
using Npgsql;
using Switchboard.Reflection;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.Reflection;

/// <summary>
/// The Chinook sample database (11 tables), loaded from the shared corpus at ../shared/corpora/chinook/ next to the
/// repository into fresh databases. Without the corpus these tests fail with a message that says so: they never pass
/// or skip silently. Each dialect's copy is loaded once per test run.
/// </summary>
public static partial class Chinook
{
    public const string CorpusRelativePath = "shared/corpora/chinook";

    public static readonly string[] ScriptNames = ["Chinook_Sqlite.sql", "Chinook_PostgreSql.sql", "Chinook_MySql.sql"];

    private static readonly ConcurrentDictionary<string, Lazy<Task<string>>> Loaded = new();

    /// <summary>The 11 tables with their primary key columns, in the SQLite/MySQL spelling (PascalCase).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> PrimaryKeys = new Dictionary<string, string[]>
    {
        ["Album"] = ["AlbumId"],
        ["Artist"] = ["ArtistId"],
        ["Customer"] = ["CustomerId"],
        ["Employee"] = ["EmployeeId"],
        ["Genre"] = ["GenreId"],
        ["Invoice"] = ["InvoiceId"],
        ["InvoiceLine"] = ["InvoiceLineId"],
        ["MediaType"] = ["MediaTypeId"],
        ["Playlist"] = ["PlaylistId"],
        ["PlaylistTrack"] = ["PlaylistId", "TrackId"],
        ["Track"] = ["TrackId"],
    };

    /// <summary>The 11 foreign keys: (table, column) → (referenced table, referenced column), PascalCase.</summary>
    public static readonly IReadOnlyList<(string Table, string Column, string RefTable, string RefColumn)> ForeignKeys =
    [
        ("Album", "ArtistId", "Artist", "ArtistId"),
        ("Customer", "SupportRepId", "Employee", "EmployeeId"),
        ("Employee", "ReportsTo", "Employee", "EmployeeId"),
        ("Invoice", "CustomerId", "Customer", "CustomerId"),
        ("InvoiceLine", "InvoiceId", "Invoice", "InvoiceId"),
        ("InvoiceLine", "TrackId", "Track", "TrackId"),
        ("PlaylistTrack", "PlaylistId", "Playlist", "PlaylistId"),
        ("PlaylistTrack", "TrackId", "Track", "TrackId"),
        ("Track", "AlbumId", "Album", "AlbumId"),
        ("Track", "GenreId", "Genre", "GenreId"),
        ("Track", "MediaTypeId", "MediaType", "MediaTypeId"),
    ];

    /// <summary>The corpus folder, found by walking up from the repository root to a sibling <c>shared</c> folder.</summary>
    public static string Folder => FindCorpus(DatabaseServers.RepositoryRoot);

    public static string FindCorpus(string repositoryRoot)
    {
        for (var dir = new DirectoryInfo(repositoryRoot); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, CorpusRelativePath);
            if (ScriptNames.All(s => File.Exists(Path.Combine(candidate, s))))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            $"The Chinook corpus is missing: expected ../{CorpusRelativePath}/ with {string.Join(", ", ScriptNames)} next to the repository " +
            $"(searched upward from {repositoryRoot}). The Chinook reflection tests need it and cannot pass without it.");
    }

    /// <summary>PascalCase → snake_case, the naming style of the PostgreSQL script (InvoiceLine → invoice_line).</summary>
    public static string SnakeCase(string name) => PascalBoundary().Replace(name, "$1_$2").ToLowerInvariant();

    public static string ReadScript(string name) => File.ReadAllText(Path.Combine(Folder, name));

    /// <summary>
    /// A SQLite file holding Chinook, kept in the test output folder and reused while the script is unchanged (named by
    /// its hash; built under a temporary name and moved into place, so an interrupted load is never reused).
    /// </summary>
    public static Task<string> SqliteFileAsync() => Loaded.GetOrAdd("sqlite", _ => new Lazy<Task<string>>(async () =>
    {
        var script = ReadScript("Chinook_Sqlite.sql");
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(script)))[..12];
        var folder = Path.Combine(AppContext.BaseDirectory, "chinook");
        var path = Path.Combine(folder, $"Chinook-{hash}.db");
        if (File.Exists(path))
        {
            return path;
        }

        Directory.CreateDirectory(folder);
        var building = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        await using (var connection = new SqliteConnection($"Data Source={building};Pooling=false"))
        {
            await connection.OpenAsync();
            await using var transaction = connection.BeginTransaction();
            foreach (var statement in SqlScript.Split(script))
            {
                await using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = statement;
                await command.ExecuteNonQueryAsync();
            }

            transaction.Commit();
        }

        try
        {
            File.Move(building, path);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(building); // another run got there first
        }

        return path;
    })).Value;

    /// <summary>A fresh PostgreSQL database holding Chinook (created once per run); returns its name.</summary>
    public static Task<string> PostgreSqlDatabaseAsync(DatabaseServers servers) => Loaded.GetOrAdd("pg:" + servers.PgPort, _ => new Lazy<Task<string>>(async () =>
    {
        var script = WithoutDatabaseCommands(ReadScript("Chinook_PostgreSql.sql"));
        var name = await servers.CreatePgDatabaseAsync("chinook");
        await using var connection = new NpgsqlConnection(servers.PgAdminConnectionString(name));
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        foreach (var statement in SqlScript.Split(script))
        {
            await using var command = new NpgsqlCommand(statement, connection, transaction);
            await command.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return name;
    })).Value;

    /// <summary>A fresh MariaDB database holding Chinook (created once per run); returns its name.</summary>
    public static Task<string> MySqlDatabaseAsync(DatabaseServers servers) => Loaded.GetOrAdd("my:" + servers.MyPort, _ => new Lazy<Task<string>>(async () =>
    {
        var script = WithoutDatabaseCommands(ReadScript("Chinook_MySql.sql"));
        var name = await servers.CreateMyDatabaseAsync("chinook");
        await using var connection = new MySqlConnection(servers.MyAdminConnectionString(name));
        await connection.OpenAsync();

        // MySql.Data cannot read MariaDB's utf8mb3 metadata (NVARCHAR warnings): the dialect's fix, applied by hand here.
        await using (var charset = new MySqlCommand("SET character_set_results = utf8mb4", connection))
        {
            await charset.ExecuteNonQueryAsync();
        }

        await using var transaction = await connection.BeginTransactionAsync();
        foreach (var statement in SqlScript.Split(script, backslashEscapes: true))
        {
            await using var command = new MySqlCommand(statement, connection, transaction);
            await command.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return name;
    })).Value;

    /// <summary>Asserts the 11 tables, their primary keys and foreign keys, with names mapped by <paramref name="spell"/>.</summary>
    public static void AssertTablesAndKeys(DatabaseSchema schema, Func<string, string> spell)
    {
        var tables = Assert.Single(schema.Schemas).Tables;
        Assert.Equal(PrimaryKeys.Keys.Select(spell).Order(StringComparer.Ordinal), tables.Select(t => t.Name));
        foreach (var (table, columns) in PrimaryKeys)
        {
            var reflected = Assert.Single(tables, t => t.Name == spell(table));
            Assert.Equal(columns.Select(spell), Assert.IsType<PrimaryKeyInfo>(reflected.PrimaryKey).Columns);
        }

        var foreignKeys = tables.SelectMany(t => t.ForeignKeys.Select(f => (t.Name, Column: Assert.Single(f.Columns), f.ReferencedTable, RefColumn: Assert.Single(f.ReferencedColumns))))
            .Order().ToList();
        Assert.Equal(ForeignKeys.Select(f => (spell(f.Table), spell(f.Column), spell(f.RefTable), spell(f.RefColumn))).Order().ToList(), foreignKeys);
        Assert.All(tables.SelectMany(t => t.ForeignKeys), f => Assert.Equal(("NO ACTION", "NO ACTION"), (f.OnDelete, f.OnUpdate)));

        // Every foreign key column has its own index (IFK_… / …_idx), and nothing else is indexed.
        var indexed = tables.SelectMany(t => t.Indexes.Select(i => (t.Name, Column: Assert.Single(i.Columns).Name!))).Order().ToList();
        Assert.Equal(ForeignKeys.Select(f => (spell(f.Table), spell(f.Column))).Order().ToList(), indexed);
    }

    private static string WithoutDatabaseCommands(string script) => DatabaseCommand().Replace(script, "");

    [GeneratedRegex(@"^\s*(DROP DATABASE|CREATE DATABASE|USE |\\c ).*$", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex DatabaseCommand();

    [GeneratedRegex("([a-z0-9])([A-Z])")]
    private static partial Regex PascalBoundary();
}
