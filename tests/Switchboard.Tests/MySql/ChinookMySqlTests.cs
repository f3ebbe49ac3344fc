using Switchboard.Reflection;
using Switchboard.Tests.Reflection;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.MySql;

[Collection(ServersCollection.Name)]
public sealed class ChinookMySqlTests(DatabaseServers servers)
{
    [Fact]
    public async Task Chinook_reflects_to_11_tables_with_their_keys()
    {
        var database = await Chinook.MySqlDatabaseAsync(servers);
        await using var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("chinook", servers.MyUrl(database)).Build();
        var schema = await catalog.GetEngine("chinook").ReflectAsync();
        Chinook.AssertTablesAndKeys(schema, name => name);
        var title = schema.FindTable("Album")!.FindColumn("Title")!;
        Assert.Equal(("varchar(160)", TypeFamily.String, 160), (title.Type, title.TypeFamily, title.Length));
        Assert.Equal(("int(11)", TypeFamily.Integer), (schema.FindTable("Album")!.FindColumn("AlbumId")!.Type, schema.FindTable("Album")!.FindColumn("AlbumId")!.TypeFamily));
        Assert.Equal("FK_AlbumArtistId", Assert.Single(schema.FindTable("Album")!.ForeignKeys).Name);
    }

    /// <summary>
    /// The SQLite and MariaDB scripts use the same names (PascalCase), so tables and columns pair exactly; by type family
    /// NVARCHAR(n) = varchar(n), INTEGER = int(11), DATETIME = datetime, NUMERIC(10,2) = decimal(10,2). What remains is
    /// real: SQLite fills in a single INTEGER PRIMARY KEY by itself (it is the rowid), MariaDB's INT keys have no
    /// AUTO_INCREMENT. That is the whole diff.
    /// </summary>
    [Fact]
    public async Task Diff_of_the_sqlite_and_mariadb_copies_reports_only_the_self_filling_sqlite_keys()
    {
        var file = await Chinook.SqliteFileAsync();
        var database = await Chinook.MySqlDatabaseAsync(servers);
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("chinook_sqlite", "sqlite:///" + file).AddDatabase("chinook_mariadb", servers.MyUrl(database)).Build();
        var diff = SchemaDiff.Compare(await catalog.GetEngine("chinook_sqlite").ReflectAsync(), await catalog.GetEngine("chinook_mariadb").ReflectAsync());
        var expected = Chinook.PrimaryKeys.Where(k => k.Value.Length == 1).Select(k => (k.Key, k.Value[0], "generatesValues", "yes", "no")).Order().ToList();
        Assert.Equal(expected, diff.Differences.Select(d => (d.Table!, d.Name!, d.Property!, d.Left!, d.Right!)).Order().ToList());
    }
}
