using System.Text.Json;
using Switchboard.Sharding;
using Switchboard.Tests.Cli;

namespace Switchboard.Tests.Sqlite;

/// <summary>The CLI's shard map and tenant set commands on real SQLite files: check, shards locate, sql fan-out, tenants.</summary>
public sealed class CliShardsTenantsSqliteTests : IDisposable
{
    private readonly CliRunner _cli = new();

    // Absolute paths: relative SQLite paths resolve against the process's folder, which in-process runs share.
    private string Config => """
    { "Databases": { "s0": "sqlite:///s0.db", "s1": "sqlite:///s1.db", "s2": "sqlite:///s2.db" },
      "Shards": {
        "events": { "Strategy": "hash", "Databases": ["s0", "s1", "s2"] },
        "orders": { "Strategy": "range", "KeyType": "integer", "Ranges": [ { "Database": "s0" }, { "From": 100, "Database": "s1" } ] }
      },
      "Tenants": { "sandboxes": { "Url": "sqlite:///tenants/{tenant}.db", "MaxOpenConnections": 3,
                                  "Schema": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)" } } }
    """.Replace("sqlite:///", "sqlite:///" + _cli.Folder + "/", StringComparison.Ordinal);

    private async Task SeedAsync()
    {
        _cli.WriteConfig(Config);
        var at = 0;
        foreach (var shard in new[] { "s0", "s1", "s2" })
        {
            var (exit, _, error) = await _cli.RunAsync("sql", shard, "CREATE TABLE ev (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, who TEXT)");
            Assert.True(exit == 0, error);
            for (var i = 0; i < 5; i++)
            {
                // Interleaved timestamps, so that a correct merge must take rows from every shard.
                Assert.Equal(0, (await _cli.RunAsync("sql", shard, $"INSERT INTO ev (at, who) VALUES ({at * 7 % 31}, '{shard}-{i}')")).Exit);
                at++;
            }
        }
    }

    [Fact]
    public async Task Check_lists_shard_maps_with_reachable_shards_and_tenant_sets_with_their_cap()
    {
        _cli.WriteConfig(Config.Replace("/s2.db", "/missing/s2.db?mode=ro", StringComparison.Ordinal));
        var (exit, output, error) = await _cli.RunAsync("check");
        Assert.True(exit == 1, output + error); // s2 cannot be opened
        var events = output.Split('\n').Single(l => l.Contains("events", StringComparison.Ordinal) && l.Contains("hash", StringComparison.Ordinal));
        Assert.Contains("s0, s1, s2", events);
        Assert.Contains("2/3", events);
        Assert.Contains("unreachable: s2", events);
        var orders = output.Split('\n').Single(l => l.Contains("orders", StringComparison.Ordinal) && l.Contains("range", StringComparison.Ordinal));
        Assert.Contains("2/2", orders);
        Assert.Contains("OK", orders);
        var sandboxes = output.Split('\n').Single(l => l.Contains("sandboxes", StringComparison.Ordinal));
        Assert.Contains("sqlite", sandboxes);
        Assert.Contains(Path.Combine(_cli.Folder, "tenants", "{tenant}.db"), sandboxes);
        Assert.Contains("3 connections", sandboxes);
    }

    [Fact]
    public async Task Shards_locate_answers_as_the_library_does_and_shows_the_key_kind()
    {
        _cli.WriteConfig(Config);
        var (exit, json, error) = await _cli.RunAsync("shards", "locate", "events", "42", "acme", "6f9619ff-8b86-d011-b42d-00cf4fc964ff", "--json");
        Assert.True(exit == 0, error);
        var rows = JsonDocument.Parse(json).RootElement.EnumerateArray().ToList();
        Assert.Equal(["integer", "string", "guid"], rows.Select(r => r.GetProperty("kind").GetString()));
        ShardKey[] keys = [42L, "acme", Guid.Parse("6f9619ff-8b86-d011-b42d-00cf4fc964ff")];
        for (var i = 0; i < keys.Length; i++)
        {
            var index = ShardMap.HashShardIndex(keys[i], 3);
            Assert.Equal(index, rows[i].GetProperty("shard").GetInt32());
            Assert.Equal("s" + index, rows[i].GetProperty("database").GetString());
        }

        // The integer 42 and the string "42" are different keys: --key-type decides, and the answer says which was used.
        var (_, asString, _) = await _cli.RunAsync("shards", "locate", "events", "42", "--key-type", "string", "--json");
        var stringRow = JsonDocument.Parse(asString).RootElement[0];
        Assert.Equal("string", stringRow.GetProperty("kind").GetString());
        Assert.Equal(ShardMap.HashShardIndex("42", 3), stringRow.GetProperty("shard").GetInt32());

        var (rangeExit, table, _) = await _cli.RunAsync("shards", "locate", "orders", "99", "100");
        Assert.Equal(0, rangeExit);
        Assert.Matches(@"99\s*│\s*integer\s*│\s*0\s*│\s*s0", table);
        Assert.Matches(@"100\s*│\s*integer\s*│\s*1\s*│\s*s1", table);

        var (unknown, _, unknownError) = await _cli.RunAsync("shards", "locate", "evnts", "1");
        Assert.Equal(2, unknown);
        Assert.Contains("No shard map named 'evnts' (did you mean 'events'?)", unknownError);
        var (wrongKind, _, wrongKindError) = await _cli.RunAsync("shards", "locate", "orders", "abc");
        Assert.Equal(2, wrongKind);
        Assert.Contains("key 'abc'", wrongKindError);
        var (badType, _, badTypeError) = await _cli.RunAsync("shards", "locate", "events", "1", "--key-type", "float");
        Assert.Equal(2, badType);
        Assert.Contains("--key-type must be auto, integer, string, guid or hex", badTypeError);
    }

    [Fact]
    public async Task Sql_fans_out_with_a_shard_column_and_the_ordered_merge_equals_the_single_database_answer()
    {
        await SeedAsync();
        var (exit, json, error) = await _cli.RunAsync("sql", "events", "SELECT id, at, who FROM ev", "--all-shards", "--json");
        Assert.True(exit == 0, error);
        var all = JsonDocument.Parse(json).RootElement.EnumerateArray().ToList();
        Assert.Equal(15, all.Count);
        Assert.All(all, r => Assert.StartsWith(r.GetProperty("shard").GetString()! + "-", r.GetProperty("who").GetString()));

        // The single-database answer: every row sorted by (at, who), first 6.
        var expected = all.OrderBy(r => r.GetProperty("at").GetInt64()).ThenBy(r => r.GetProperty("shard").GetString(), StringComparer.Ordinal)
            .Take(6).Select(r => r.GetProperty("who").GetString()).ToList();
        var (mergeExit, merged, mergeError) = await _cli.RunAsync("sql", "events", "SELECT at, who FROM ev ORDER BY at LIMIT 6", "--all-shards",
            "--order-by", "at", "--limit", "6", "--csv");
        Assert.True(mergeExit == 0, mergeError);
        var lines = merged.Trim().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Equal("shard,at,who", lines[0]);
        Assert.Equal(expected, lines.Skip(1).Select(l => l.Split(',')[2]));

        var (descExit, desc, _) = await _cli.RunAsync("sql", "events", "SELECT at FROM ev ORDER BY at DESC", "--all-shards", "--order-by", "at", "--desc", "--json");
        Assert.Equal(0, descExit);
        var descending = JsonDocument.Parse(desc).RootElement.EnumerateArray().Select(r => r.GetProperty("at").GetInt64()).ToList();
        Assert.Equal(descending.OrderDescending(), descending);

        var (subsetExit, subset, _) = await _cli.RunAsync("sql", "events", "SELECT COUNT(*) AS n FROM ev", "--shard", "s1", "--shard", "s2", "--json");
        Assert.Equal(0, subsetExit);
        // Unordered fan-out: rows come in arrival order.
        Assert.Equal(["s1", "s2"], JsonDocument.Parse(subset).RootElement.EnumerateArray().Select(r => r.GetProperty("shard").GetString()).Order());

        var (tableExit, table, _) = await _cli.RunAsync("sql", "events", "SELECT COUNT(*) AS n FROM ev", "--all-shards");
        Assert.Equal(0, tableExit);
        Assert.Matches(@"│\s*shard\s*│\s*n\s*│", table);
        Assert.Contains("3 rows", table);

        // A fan-out is read-only: a write is refused on every shard, and nothing changes.
        var (writeExit, _, writeError) = await _cli.RunAsync("sql", "events", "DELETE FROM ev", "--all-shards");
        Assert.Equal(1, writeExit);
        Assert.Contains("Refused a write across shards", writeError);
        Assert.Equal(15, JsonDocument.Parse((await _cli.RunAsync("sql", "events", "SELECT id FROM ev", "--all-shards", "--json")).Out).RootElement.GetArrayLength());

        var (unknownShard, _, unknownShardError) = await _cli.RunAsync("sql", "events", "SELECT 1", "--shard", "s9");
        Assert.Equal(2, unknownShard);
        Assert.Contains("'s9' is not a shard of shard map 'events'", unknownShardError);
        var (noColumn, _, noColumnError) = await _cli.RunAsync("sql", "events", "SELECT at FROM ev ORDER BY at", "--all-shards", "--order-by", "when");
        Assert.Equal(2, noColumn);
        Assert.Contains("no column 'when'", noColumnError);
        var (mapAlone, _, mapAloneError) = await _cli.RunAsync("sql", "events", "SELECT 1");
        Assert.Equal(2, mapAlone);
        Assert.Contains("'events' is a shard map", mapAloneError);
    }

    [Fact]
    public async Task Sql_partial_prints_the_shards_that_answered_and_names_the_failed_one()
    {
        await SeedAsync();
        Assert.Equal(0, (await _cli.RunAsync("sql", "s1", "DROP TABLE ev")).Exit);
        var (failExit, failOut, failError) = await _cli.RunAsync("sql", "events", "SELECT who FROM ev", "--all-shards", "--json");
        Assert.Equal(1, failExit);
        Assert.Equal("", failOut);
        Assert.Contains("s1", failError);

        var (exit, json, error) = await _cli.RunAsync("sql", "events", "SELECT who FROM ev", "--all-shards", "--partial", "--json");
        Assert.Equal(1, exit);
        var shards = JsonDocument.Parse(json).RootElement.EnumerateArray().Select(r => r.GetProperty("shard").GetString()).Distinct().Order().ToList();
        Assert.Equal(["s0", "s2"], shards);
        Assert.Contains("shard s1 failed", error);
        Assert.Contains("no such table", error);
    }

    [Fact]
    public async Task Sql_with_a_key_writes_on_that_key_s_shard_only()
    {
        await SeedAsync();
        var shard = "s" + ShardMap.HashShardIndex("acme", 3);
        var (exit, output, error) = await _cli.RunAsync("sql", "events", "INSERT INTO ev (at, who) VALUES (99, 'acme')", "--key", "acme");
        Assert.True(exit == 0, error);
        Assert.Contains($"on shard {shard} of shard map events (string key acme)", output);
        var (_, json, _) = await _cli.RunAsync("sql", "events", "SELECT who FROM ev WHERE at = 99", "--all-shards", "--json");
        var row = Assert.Single(JsonDocument.Parse(json).RootElement.EnumerateArray());
        Assert.Equal(shard, row.GetProperty("shard").GetString());

        var (both, _, bothError) = await _cli.RunAsync("sql", "events", "SELECT 1", "--key", "1", "--all-shards");
        Assert.Equal(2, both);
        Assert.Contains("choose one", bothError);
    }

    [Fact]
    public async Task Tenants_are_created_queried_checked_and_dropped_as_files()
    {
        _cli.WriteConfig(Config);
        var file = Path.Combine(_cli.Folder, "tenants", "acme.db");
        var (createExit, created, createError) = await _cli.RunAsync("tenants", "create", "sandboxes", "acme", "beta");
        Assert.True(createExit == 0, createError);
        Assert.Contains("sandboxes/acme: created", created);
        Assert.True(File.Exists(file));

        var (again, _, againError) = await _cli.RunAsync("tenants", "create", "sandboxes", "acme");
        Assert.Equal(1, again);
        Assert.Contains("sandboxes/acme", againError);

        Assert.Equal(0, (await _cli.RunAsync("sql", "sandboxes/acme", "INSERT INTO notes (body) VALUES ('hello')")).Exit);
        var (_, json, _) = await _cli.RunAsync("sql", "sandboxes/acme", "SELECT body FROM notes", "--json");
        Assert.Equal("hello", Assert.Single(JsonDocument.Parse(json).RootElement.EnumerateArray()).GetProperty("body").GetString());
        var (_, beta, _) = await _cli.RunAsync("sql", "sandboxes/beta", "SELECT COUNT(*) AS n FROM notes", "--json");
        Assert.Equal(0, JsonDocument.Parse(beta).RootElement[0].GetProperty("n").GetInt64()); // isolated

        // A missing tenant is an error, and querying it does not create its file.
        var (missing, _, missingError) = await _cli.RunAsync("sql", "sandboxes/zed", "SELECT 1");
        Assert.Equal(1, missing);
        Assert.Contains("switchboard tenants create sandboxes zed", missingError);
        Assert.False(File.Exists(Path.Combine(_cli.Folder, "tenants", "zed.db")));

        var (existsExit, exists, _) = await _cli.RunAsync("tenants", "exists", "sandboxes", "acme", "zed");
        Assert.Equal(1, existsExit);
        Assert.Contains("sandboxes/acme: exists", exists);
        Assert.Contains("sandboxes/zed: does not exist", exists);

        var (invalid, _, invalidError) = await _cli.RunAsync("sql", "sandboxes/../s0", "SELECT 1");
        Assert.Equal(2, invalid);
        Assert.Contains("Invalid tenant id", invalidError);
        Assert.DoesNotContain("(Parameter", invalidError); // .NET's note for programmers is not for the terminal
        var (badId, _, badIdError) = await _cli.RunAsync("tenants", "create", "sandboxes", "ok", "Not-OK");
        Assert.Equal(2, badId);
        Assert.Contains("Invalid tenant id 'Not-OK'", badIdError);
        Assert.DoesNotContain("(Parameter", badIdError);
        Assert.False(File.Exists(Path.Combine(_cli.Folder, "tenants", "ok.db"))); // every id is checked before the first is created
        var (unknownSet, _, unknownSetError) = await _cli.RunAsync("tenants", "drop", "sandbox", "acme", "--yes");
        Assert.Equal(2, unknownSet);
        Assert.Contains("No tenant set named 'sandbox' (did you mean 'sandboxes'?)", unknownSetError);

        var (unconfirmed, _, unconfirmedError) = await _cli.RunAsync("tenants", "drop", "sandboxes", "acme");
        Assert.Equal(2, unconfirmed);
        Assert.Contains("--yes", unconfirmedError);
        Assert.True(File.Exists(file));
        var (dropExit, dropped, dropError) = await _cli.RunAsync("tenants", "drop", "sandboxes", "acme", "beta", "--yes");
        Assert.True(dropExit == 0, dropError);
        Assert.Contains("sandboxes/acme: dropped", dropped);
        Assert.False(File.Exists(file));
        var (_, twice, _) = await _cli.RunAsync("tenants", "drop", "sandboxes", "acme", "--yes");
        Assert.Contains("sandboxes/acme: did not exist", twice);

        var (listExit, list, _) = await _cli.RunAsync("tenants", "list", "--json");
        Assert.Equal(0, listExit);
        var set = Assert.Single(JsonDocument.Parse(list).RootElement.EnumerateArray());
        Assert.Equal(3, set.GetProperty("maxOpenConnections").GetInt32());
        Assert.Equal("sqlite", set.GetProperty("dialect").GetString());
    }

    public void Dispose() => _cli.Dispose();
}
