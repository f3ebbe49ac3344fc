using Switchboard.Reflection;
using Switchboard.Tests.Reflection;

namespace Switchboard.Tests.Sqlite;

public sealed class ChinookSqliteTests
{
    [Fact]
    public async Task Chinook_reflects_to_11_tables_with_their_keys()
    {
        var file = await Chinook.SqliteFileAsync();
        await using var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("chinook", "sqlite:///" + file).Build();
        var schema = await catalog.GetEngine("chinook").ReflectAsync();
        Chinook.AssertTablesAndKeys(schema, name => name);
        Assert.Equal("PK_PlaylistTrack", schema.FindTable("PlaylistTrack")!.PrimaryKey!.Name);
        var total = schema.FindTable("Invoice")!.FindColumn("Total")!;
        Assert.Equal(("NUMERIC(10,2)", TypeFamily.Decimal, 10, 2), (total.Type, total.TypeFamily, total.Precision, total.Scale));
        var title = schema.FindTable("Album")!.FindColumn("Title")!;
        Assert.Equal(("NVARCHAR(160)", TypeFamily.String, 160, false), (title.Type, title.TypeFamily, title.Length, title.Nullable));
        Assert.Equal(TypeFamily.Timestamp, schema.FindTable("Employee")!.FindColumn("BirthDate")!.TypeFamily);
        Assert.True(schema.FindTable("Album")!.FindColumn("AlbumId")!.AutoIncrement); // INTEGER PRIMARY KEY: the rowid
    }
}
