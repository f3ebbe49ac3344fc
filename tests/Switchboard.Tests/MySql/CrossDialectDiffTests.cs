using Dapper;
using Switchboard.Reflection;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.MySql;

/// <summary>
/// One portable schema created on MariaDB, PostgreSQL and SQLite: by type family the three are equal (INT = int(11) =
/// integer, BOOLEAN = tinyint(1) = boolean, checks and defaults as each server spells them), and a real change on one
/// side is the only difference reported.
/// </summary>
[Collection(ServersCollection.Name)]
public sealed class CrossDialectDiffTests(DatabaseServers servers) : IDisposable
{
    private static readonly string[] Portable =
    [
        """
        CREATE TABLE authors (id INT NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, born DATE, active BOOLEAN NOT NULL DEFAULT TRUE,
          rating DECIMAL(3,1), bio TEXT, score DOUBLE PRECISION, created TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP)
        """,
        """
        CREATE TABLE books (id INT NOT NULL PRIMARY KEY, author_id INT NOT NULL, title VARCHAR(200) NOT NULL, price DECIMAL(8,2) NOT NULL DEFAULT 0,
          published DATE,
          CONSTRAINT fk_books_author FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE CASCADE,
          CONSTRAINT uq_books_title UNIQUE (author_id, title),
          CONSTRAINT ck_books_price CHECK (price >= 0))
        """,
        "CREATE INDEX ix_books_published ON books (published)",
    ];

    private readonly string _sqliteFile = Path.Combine(Path.GetTempPath(), "switchboard-portable-" + Guid.NewGuid().ToString("N")[..8] + ".db");

    private async Task<SwitchboardCatalog> CatalogAsync()
    {
        var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("maria", servers.MyUrl(await servers.CreateMyDatabaseAsync("portable")))
            .AddDatabase("pg", servers.PgUrl(await servers.CreatePgDatabaseAsync("portable")))
            .AddDatabase("lite", "sqlite:///" + _sqliteFile)
            .Build();
        foreach (var name in catalog.Names)
        {
            await using var connection = await catalog.GetEngine(name).OpenConnectionAsync();
            foreach (var statement in Portable)
            {
                await connection.ExecuteAsync(statement);
            }
        }

        return catalog;
    }

    [Fact]
    public async Task The_same_schema_on_three_dialects_is_equal_by_type_family()
    {
        await using var catalog = await CatalogAsync();
        var maria = await catalog.GetEngine("maria").ReflectAsync();
        var pg = await catalog.GetEngine("pg").ReflectAsync();
        var lite = await catalog.GetEngine("lite").ReflectAsync();
        foreach (var (a, b) in new[] { (maria, pg), (pg, lite), (lite, maria) })
        {
            var diff = SchemaDiff.Compare(a, b);
            Assert.True(diff.Equal, $"{a.Dialect} ↔ {b.Dialect}: " + string.Join("; ", diff.Differences));
        }

        // Declared types differ in spelling: int(11) / integer / INT, tinyint(1) / boolean / BOOLEAN, …
        var exact = SchemaDiff.Compare(maria, pg, new DiffOptions { Types = TypeComparison.Exact });
        Assert.Contains(exact.Differences, d => d is { Name: "id", Left: "int(11)", Right: "integer" });
        Assert.Contains(exact.Differences, d => d is { Name: "active", Left: "tinyint(1)", Right: "boolean" });
        Assert.All(exact.Differences, d => Assert.Equal("type", d.Property));
    }

    [Fact]
    public async Task A_real_change_on_one_side_is_the_only_difference()
    {
        await using var catalog = await CatalogAsync();
        await using (var connection = await catalog.GetEngine("maria").OpenConnectionAsync())
        {
            await connection.ExecuteAsync("ALTER TABLE books MODIFY title VARCHAR(250) NOT NULL");
            await connection.ExecuteAsync("ALTER TABLE authors MODIFY bio TEXT NOT NULL");
        }

        var diff = SchemaDiff.Compare(await catalog.GetEngine("pg").ReflectAsync(), await catalog.GetEngine("maria").ReflectAsync());
        Assert.Equal(
            [("authors", "bio", "nullable", "yes", "no"), ("books", "title", "type", "string(200)", "string(250)")],
            diff.Differences.Select(d => (d.Table!, d.Name!, d.Property!, d.Left!, d.Right!)));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _sqliteFile, _sqliteFile + "-wal", _sqliteFile + "-shm" })
        {
            File.Delete(file);
        }
    }
}
