using System.Text.Json;
using Switchboard.Cli;
using Switchboard.Reflection;
using Switchboard.Tests.Reflection;
using Switchboard.Tests.Rig;

namespace Switchboard.Tests.PostgreSql;

[Collection(ServersCollection.Name)]
public sealed class ChinookPostgreSqlTests(DatabaseServers servers)
{
    [Fact]
    public async Task Chinook_reflects_to_11_tables_with_their_keys()
    {
        var database = await Chinook.PostgreSqlDatabaseAsync(servers);
        await using var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("chinook", servers.PgUrl(database)).Build();
        var schema = await catalog.GetEngine("chinook").ReflectAsync();
        Chinook.AssertTablesAndKeys(schema, Chinook.SnakeCase);
        Assert.Equal("playlist_track_pkey", schema.FindTable("playlist_track")!.PrimaryKey!.Name);
        Assert.Equal("character varying(160)", schema.FindTable("album")!.FindColumn("title")!.Type);
        Assert.Equal(7, schema.Statistics!.QueryCount);
    }

    /// <summary>
    /// <c>switchboard diff</c> between the SQLite and PostgreSQL copies of Chinook. The two scripts describe the same
    /// database; the real differences are exactly these, and nothing else is reported:
    /// <list type="number">
    /// <item>Naming style: SQLite says <c>InvoiceLine.InvoiceLineId</c>, PostgreSQL <c>invoice_line.invoice_line_id</c>. With exact
    /// name matching (the default) every table is therefore only on one side: 11 + 11 table differences, pairwise equal once
    /// snake-cased.</item>
    /// <item>Self-filling keys: a single <c>INTEGER PRIMARY KEY</c> is SQLite's rowid and fills itself in; PostgreSQL's
    /// <c>INT</c> keys have no identity or serial. 10 keys (PlaylistTrack's key is composite). This is all that remains with
    /// <c>--match-names ignore-style</c>; by type family NVARCHAR(n) = varchar(n), DATETIME = timestamp, NUMERIC = numeric.</item>
    /// <item>Type spelling: with <c>--exact-types</c>, <c>NVARCHAR(n)</c> vs <c>character varying(n)</c> and <c>DATETIME</c>
    /// vs <c>timestamp without time zone</c> (INTEGER = integer and NUMERIC(10,2) = numeric(10,2) once case is ignored).</item>
    /// <item>Constraint names: with <c>--constraint-names compare</c>, <c>PK_Album</c> vs <c>album_pkey</c> and
    /// <c>IFK_AlbumArtistId</c> vs <c>album_artist_id_idx</c> (SQLite's foreign keys are unnamed, so there is nothing to compare).</item>
    /// </list>
    /// </summary>
    [Fact]
    public async Task Switchboard_diff_of_the_sqlite_and_postgresql_copies_reports_only_the_real_differences()
    {
        var file = await Chinook.SqliteFileAsync();
        var database = await Chinook.PostgreSqlDatabaseAsync(servers);
        using var cli = new CliRunner(new Dictionary<string, string> { ["chinook_sqlite"] = "sqlite:///" + file, ["chinook_pg"] = servers.PgUrl(database) });

        // 1. Naming style: every table on one side only, and the two sides are the same names in another style.
        var (exit, differences) = await DiffAsync(cli);
        Assert.Equal(SwitchboardCli.Failed, exit);
        Assert.Equal(22, differences.Count);
        Assert.All(differences, d => Assert.Equal("table", d.ObjectKind));
        var left = differences.Where(d => d.Kind == "onlyInLeft").Select(d => d.Name).ToList();
        var right = differences.Where(d => d.Kind == "onlyInRight").Select(d => d.Name).ToList();
        Assert.Equal(Chinook.PrimaryKeys.Keys.Order(StringComparer.Ordinal), left.Order(StringComparer.Ordinal));
        Assert.Equal(left.Select(n => Chinook.SnakeCase(n!)).Order(StringComparer.Ordinal), right.Order(StringComparer.Ordinal));

        // 2. Ignoring the naming style: only SQLite's self-filling rowid keys remain.
        (exit, differences) = await DiffAsync(cli, "--match-names", "ignore-style");
        Assert.Equal(SwitchboardCli.Failed, exit);
        var selfFilling = Chinook.PrimaryKeys.Where(k => k.Value.Length == 1).Select(k => new Difference("changed", "column", k.Key, k.Value[0], "generatesValues", "yes", "no"))
            .ToHashSet();
        Assert.Equal(10, selfFilling.Count);
        Assert.Equal(selfFilling, differences.ToHashSet());

        // 3. Exact types: the same, plus the two type spellings, and no other type difference.
        var sqlite = SchemaJson.Deserialize((await cli.RunAsync("schema", "chinook_sqlite", "--json")).Out);
        (exit, differences) = await DiffAsync(cli, "--match-names", "ignore-style", "--exact-types");
        var typeDifferences = differences.Where(d => d.Property == "type").ToList();
        Assert.Equal(differences.Count - selfFilling.Count, typeDifferences.Count);
        Assert.Equal(sqlite.AllTables.SelectMany(t => t.Columns).Count(c => c.Type.StartsWith("NVARCHAR", StringComparison.Ordinal) || c.Type == "DATETIME"), typeDifferences.Count);
        Assert.All(typeDifferences, d => Assert.True(
            d.Left == "datetime" && d.Right == "timestamp without time zone" || d.Left!.Replace("nvarchar", "character varying", StringComparison.Ordinal) == d.Right,
            $"{d.Table}.{d.Name}: {d.Left} → {d.Right}"));

        // 4. Constraint names: PK_X vs x_pkey and IFK_… vs …_idx, 11 each.
        (exit, differences) = await DiffAsync(cli, "--match-names", "ignore-style", "--constraint-names", "compare");
        var names = differences.Where(d => d.Property == "name").ToList();
        Assert.Equal(differences.Count - selfFilling.Count, names.Count);
        Assert.Equal(11, names.Count(d => d.ObjectKind == "primaryKey" && d.Left == "PK_" + d.Table && d.Right == Chinook.SnakeCase(d.Table!) + "_pkey"));
        Assert.Equal(11, names.Count(d => d.ObjectKind == "index" && d.Left!.StartsWith("IFK_", StringComparison.Ordinal) && d.Right!.EndsWith("_idx", StringComparison.Ordinal)));
        Assert.Equal(22, names.Count);
    }

    private sealed record Difference(string Kind, string ObjectKind, string? Table, string? Name, string? Property, string? Left, string? Right);

    private static async Task<(int Exit, List<Difference> Differences)> DiffAsync(CliRunner cli, params string[] options)
    {
        var (exit, output, error) = await cli.RunAsync(["diff", "chinook_sqlite", "chinook_pg", "--json", .. options]);
        Assert.True(error.Length == 0, error);
        using var json = JsonDocument.Parse(output);
        var differences = json.RootElement.GetProperty("differences").EnumerateArray().Select(d => new Difference(
            d.GetProperty("kind").GetString()!, d.GetProperty("objectKind").GetString()!, d.GetProperty("table").GetString(), d.GetProperty("name").GetString(),
            d.GetProperty("property").GetString(), d.GetProperty("left").GetString(), d.GetProperty("right").GetString())).ToList();
        Assert.Equal(differences.Count == 0, json.RootElement.GetProperty("equal").GetBoolean());
        return (exit, differences);
    }
}
