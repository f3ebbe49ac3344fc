using System.Diagnostics;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Configuration;
using Switchboard.Sharding;

namespace Switchboard.Tests.Sharding;

/// <summary>
/// Key → shard routing of hash and range maps, without a server (the shards are never opened). The golden values were
/// computed by an independent implementation (Python) of FNV-1a-64 + fmix64 + jump consistent hash, so they pin the
/// arithmetic, not just this implementation's output.
/// </summary>
public sealed class ShardRoutingTests
{
    public static TheoryData<object, ulong, int, int, int, int> Golden => new()
    {
        { "acme", 0x3a25b6656ba9cfc6UL, 0, 5, 13, 13 },
        { "globex", 0x2d5e34dab39d74b1UL, 0, 7, 7, 48 },
        { "", 0xefd01f60ba992926UL, 1, 1, 1, 59 },
        { "Ünïcødé", 0xe3163c1a3f9260deUL, 1, 6, 6, 33 },
        { "tenant-42", 0x2109a24510bb8a82UL, 1, 4, 12, 74 },
        { 0L, 0x7bd3144f29c0cc9eUL, 1, 5, 5, 64 },
        { 1L, 0x4a3a3a4ba6523826UL, 0, 6, 6, 19 },
        { 42L, 0xa6245a5dcf278758UL, 0, 3, 8, 56 },
        { -1L, 0x6a92c0228678c02eUL, 0, 5, 10, 40 },
        { long.MaxValue, 0x8e30cae1ac7884cdUL, 0, 6, 8, 8 },
        { long.MinValue, 0x6d0e3b52a3f55345UL, 1, 6, 6, 90 },
        { 1234567890123L, 0x1e48bdc9cd8fea03UL, 1, 6, 6, 33 },
        { Guid.Parse("6f9619ff-8b86-d011-b42d-00c04fc964ff"), 0x441dcd6c789793feUL, 1, 7, 10, 98 },
    };

    [Theory]
    [MemberData(nameof(Golden))]
    public void Hash_routing_matches_the_fixed_table(object key, ulong hash, int of2, int of8, int of16, int of100)
    {
        var k = ShardKey.From(key);
        Assert.Equal(hash, StableHash.Hash(k));
        Assert.Equal([of2, of8, of16, of100], new[] { 2, 8, 16, 100 }.Select(n => ShardMap.HashShardIndex(k, n)));
    }

    [Fact]
    public void Fnv1a_matches_the_published_test_vectors()
    {
        Assert.Equal(0xcbf29ce484222325UL, StableHash.Fnv1a64([]));
        Assert.Equal(0xaf63dc4c8601ec8cUL, StableHash.Fnv1a64("a"u8));
        Assert.Equal(0x85944171f73967e8UL, StableHash.Fnv1a64("foobar"u8));
    }

    [Fact]
    public void Integer_keys_are_the_same_key_whatever_their_dotnet_type()
    {
        var expected = ShardMap.HashShardIndex(42L, 16);
        Assert.All(new object[] { 42, (short)42, (byte)42, 42u, 42UL, (ushort)42, (sbyte)42 },
            k => Assert.Equal(expected, ShardMap.HashShardIndex(ShardKey.From(k), 16)));
        Assert.Throws<ArgumentException>(() => ShardKey.From(4.2));
    }

    [Fact]
    public void Hash_property_every_key_maps_to_exactly_one_shard_and_always_the_same()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<NonNull<string>>(), Gen.Choose(1, 200).ToArbitrary(), (key, shards) =>
        {
            var first = ShardMap.HashShardIndex(key.Get, shards);
            var again = ShardMap.HashShardIndex(ShardKey.FromString(key.Get), shards);
            return first >= 0 && first < shards && first == again;
        }).QuickCheckThrowOnFailure();

        Prop.ForAll(ArbMap.Default.ArbFor<long>(), Gen.Choose(1, 200).ToArbitrary(), (key, shards) =>
        {
            var index = ShardMap.HashShardIndex(key, shards);
            return index >= 0 && index < shards;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Hash_property_adding_a_shard_moves_keys_only_onto_the_new_shard()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<long>(), Gen.Choose(1, 100).ToArbitrary(), (key, shards) =>
        {
            var before = ShardMap.HashShardIndex(key, shards);
            var after = ShardMap.HashShardIndex(key, shards + 1);
            return after == before || after == shards;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Hash_spreads_sequential_keys_evenly_and_moves_a_fair_share_when_growing()
    {
        const int keys = 40_000;
        var counts = new int[8];
        var moved = 0;
        for (var i = 0; i < keys; i++)
        {
            counts[ShardMap.HashShardIndex(i, 8)]++;
            moved += ShardMap.HashShardIndex(i, 9) == 8 ? 1 : 0;
        }

        Assert.All(counts, c => Assert.InRange(c, keys / 8 * 0.95, keys / 8 * 1.05));
        Assert.InRange(moved, keys / 9 * 0.9, keys / 9 * 1.1); // about 1/(n+1) move, all of them to the new shard
    }

    [Fact]
    public async Task Hash_routing_is_the_same_in_another_process()
    {
        // The child (F# interactive) loads the built Switchboard.dll and routes the same keys through the public API.
        var keys = Enumerable.Range(0, 200).Select(i => $"key-{i * 7919}-{(char)('a' + (i % 26))}").Append("Ünïcødé").ToList();
        var folder = Directory.CreateTempSubdirectory("switchboard-hash-").FullName;
        try
        {
            var dll = typeof(ShardMap).Assembly.Location.Replace("\\", "/", StringComparison.Ordinal);
            var keysFile = Path.Combine(folder, "keys.txt");
            await File.WriteAllLinesAsync(keysFile, keys, Encoding.UTF8);
            var script = Path.Combine(folder, "route.fsx");
            await File.WriteAllTextAsync(script, $$"""
                #r "{{dll}}"
                open Switchboard.Sharding
                for line in System.IO.File.ReadAllLines("{{keysFile.Replace("\\", "/", StringComparison.Ordinal)}}", System.Text.Encoding.UTF8) do
                    printfn "%d %d" (ShardMap.HashShardIndex(ShardKey.FromString line, 8)) (ShardMap.HashShardIndex(ShardKey.FromString line, 37))
                """);
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, StandardOutputEncoding = Encoding.UTF8 };
            start.ArgumentList.Add("fsi");
            start.ArgumentList.Add("--quiet");
            start.ArgumentList.Add(script);
            using var child = Process.Start(start)!;
            var output = child.StandardOutput.ReadToEndAsync();
            var error = child.StandardError.ReadToEndAsync();
            await child.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(child.ExitCode == 0, await error);
            var lines = (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var expected = keys.Select(k => $"{ShardMap.HashShardIndex(k, 8)} {ShardMap.HashShardIndex(k, 37)}");
            Assert.Equal(expected, lines);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Range_property_every_key_falls_in_exactly_one_range()
    {
        var bounds = Gen.ListOf(ArbMap.Default.GeneratorFor<long>()).Select(l => l.Distinct().Order().ToArray());
        Prop.ForAll(bounds.ToArbitrary(), ArbMap.Default.ArbFor<long[]>(), (lowerBounds, keys) =>
        {
            using var catalog = RangeCatalog(lowerBounds.Select(b => (ShardKey?)b).Prepend(null).ToArray());
            var map = catalog.Shards("ranges");
            foreach (var key in keys.Append(long.MinValue).Append(long.MaxValue).Concat(lowerBounds))
            {
                // Brute force: the ranges whose bounds contain the key.
                var containing = Enumerable.Range(0, lowerBounds.Length + 1)
                    .Where(r => (r == 0 || lowerBounds[r - 1] <= key) && (r == lowerBounds.Length || key < lowerBounds[r])).ToList();
                if (containing.Count != 1 || map.ForKey(key).Index != containing[0])
                {
                    return false;
                }
            }

            return true;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void String_ranges_compare_ordinally()
    {
        using var catalog = RangeCatalog([null, "g", "n", "t"], ShardKeyKind.String);
        var map = catalog.Shards("ranges");
        Assert.Equal([0, 1, 1, 2, 3, 3, 0], new[] { "apple", "g", "grape", "n", "t", "zebra", "G" }.Select(k => map.ForKey(k).Index));
        var error = Assert.Throws<ArgumentException>(() => map.ForKey(5));
        Assert.Contains("'ranges'", error.Message);
    }

    [Fact]
    public void Shards_come_from_the_Shards_configuration_section()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Databases:e0"] = "sqlite://:memory:",
            ["Databases:e1"] = "sqlite://:memory:",
            ["Databases:e2"] = "sqlite://:memory:",
            ["Shards:events:Databases:0"] = "e0",
            ["Shards:events:Databases:1"] = "e1",
            ["Shards:events:Databases:2"] = "e2",
            ["Shards:events:MaxParallelism"] = "2",
            ["Shards:byid:Strategy"] = "range",
            ["Shards:byid:Ranges:0:Database"] = "e0",
            ["Shards:byid:Ranges:1:From"] = "1000",
            ["Shards:byid:Ranges:1:Database"] = "e2",
        }).Build();
        using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddConfiguration(configuration.GetSection("Databases"))
            .AddShardConfiguration(configuration.GetSection("Shards"))
            .Build();
        Assert.Equal(["byid", "events"], catalog.ShardMapNames);
        var events = catalog.Shards("EVENTS");
        Assert.Equal(ShardStrategy.Hash, events.Strategy);
        Assert.Equal(["e0", "e1", "e2"], events.Shards.Select(s => s.DatabaseName));
        Assert.Equal(2, events.MaxParallelism);
        Assert.Equal(events.Shards[ShardMap.HashShardIndex("acme", 3)], events.ForKey("acme"));
        var byId = catalog.Shards("byid");
        Assert.Equal(["e0", "e2"], byId.Shards.Select(s => s.DatabaseName));
        Assert.Equal("e0", byId.ForKey(999).DatabaseName);
        Assert.Equal("e2", byId.ForKey(1000).DatabaseName);
        var unknown = Assert.Throws<UnknownShardMapException>(() => catalog.Shards("evnets"));
        Assert.Contains("did you mean 'events'", unknown.Message);
        Assert.Equal(0, catalog.EnginesCreated); // routing opened nothing
    }

    [Fact]
    public void Every_shard_map_problem_is_reported_at_once()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Databases:e0"] = "sqlite://:memory:",
            ["Databases:e1"] = "sqlite://:memory:",
            ["Shards:a:Databases"] = "e0, e9",
            ["Shards:a:Strategi"] = "hash",
            ["Shards:b:Strategy"] = "range",
            ["Shards:b:Ranges:0:From"] = "5",
            ["Shards:b:Ranges:0:Database"] = "e0",
            ["Shards:b:Ranges:1:From"] = "1",
            ["Shards:b:Ranges:1:Database"] = "e1",
            ["Shards:c:Strategy"] = "lookup",
            ["Shards:c:Databases:0"] = "e0",
            ["Shards:c:Lookup:Database"] = "e1",
            ["Shards:c:Lookup:Table"] = "dir; DROP TABLE x",
            ["Shards:d:Strategy"] = "modulo",
            ["Shards:d:Databases:0"] = "e0",
            ["Shards:d:Databases:1"] = "E0",
        }).Build();
        var builder = SwitchboardCatalog.CreateBuilder()
            .AddConfiguration(configuration.GetSection("Databases"))
            .AddShardConfiguration(configuration.GetSection("Shards"));
        var error = Assert.Throws<CatalogConfigurationException>(() => builder.Build());
        var problems = error.Problems.Select(p => p.ToString()).ToList();
        Assert.Contains(problems, p => p.StartsWith("Shards:a: Databases:1:", StringComparison.Ordinal) && p.Contains("'e9'") && p.Contains("did you mean"));
        Assert.Contains(problems, p => p.StartsWith("Shards:a: Strategi:", StringComparison.Ordinal) && p.Contains("did you mean 'Strategy'"));
        Assert.Contains(problems, p => p.StartsWith("Shards:b: Ranges:0:From:", StringComparison.Ordinal) && p.Contains("no lower bound"));
        Assert.Contains(problems, p => p.StartsWith("Shards:c: Lookup:Table:", StringComparison.Ordinal) && p.Contains("plain identifier"));
        Assert.Contains(problems, p => p.StartsWith("Shards:d: Strategy:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Shards:d: Databases:1:", StringComparison.Ordinal) && p.Contains("twice"));
    }

    private static SwitchboardCatalog RangeCatalog(ShardKey?[] lowerBounds, ShardKeyKind kind = ShardKeyKind.Integer)
    {
        var builder = SwitchboardCatalog.CreateBuilder();
        var options = new ShardMapOptions { Strategy = ShardStrategy.Range, KeyType = kind };
        for (var i = 0; i < lowerBounds.Length; i++)
        {
            builder.AddDatabase($"r{i}", "sqlite://:memory:");
            options.Ranges.Add(new ShardRange(lowerBounds[i], $"r{i}"));
        }

        return builder.AddShardMap("ranges", options).Build();
    }
}
