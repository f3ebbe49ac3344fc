using FsCheck;
using FsCheck.Fluent;
using Switchboard.Sharding;

namespace Switchboard.Tests.Sqlite;

/// <summary>Lookup shard maps: a directory table (here in a SQLite file) says which shard holds each key; answers are cached.</summary>
public sealed class SqliteShardLookupTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("switchboard-lookup-").FullName;
    private SwitchboardCatalog _catalog = null!;

    private ShardMap Map => _catalog.Shards("accounts");

    public async Task InitializeAsync()
    {
        _catalog = Catalog(TimeSpan.FromHours(1));
        await using var session = _catalog.OpenSession("directory");
        await session.ExecuteAsync("CREATE TABLE shard_directory (account TEXT PRIMARY KEY, shard TEXT NOT NULL)");
        await session.CommitAsync();
    }

    public async Task DisposeAsync()
    {
        await _catalog.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    private SwitchboardCatalog Catalog(TimeSpan ttl) => SwitchboardCatalog.CreateBuilder()
        .AddDatabase("directory", $"sqlite:///{_folder}/directory.db")
        .AddDatabase("a0", $"sqlite:///{_folder}/a0.db")
        .AddDatabase("a1", $"sqlite:///{_folder}/a1.db")
        .AddDatabase("a2", $"sqlite:///{_folder}/a2.db")
        .AddShardMap("accounts", ShardStrategy.Lookup, ["a0", "a1", "a2"], o => o.Lookup = new ShardLookupOptions
        {
            Database = "directory",
            Table = "shard_directory",
            KeyColumn = "account",
            ShardColumn = "shard",
            CacheTtl = ttl,
        })
        .Build();

    private async Task SetOutsideAsync(string key, string shard)
    {
        await using var session = _catalog.OpenSession("directory");
        await session.ExecuteAsync("UPDATE shard_directory SET shard = @shard WHERE account = @key", new { key, shard });
        await session.CommitAsync();
    }

    [Fact]
    public void Property_every_assigned_key_maps_to_exactly_its_shard()
    {
        var assignments = Gen.Choose(0, 2).ToArbitrary();
        var counter = 0;
        Prop.ForAll(ArbMap.Default.ArbFor<NonEmptyString>(), assignments, (key, shard) =>
        {
            // Unique keys per run (FsCheck repeats values); any string, including quotes and SQL-looking text.
            var k = $"{Interlocked.Increment(ref counter)}:{key.Get}";
            Map.AssignAsync(k, $"a{shard}").GetAwaiter().GetResult();
            return Map.ForKey(k).Index == shard && Map.ForKeyAsync(k).AsTask().GetAwaiter().GetResult().DatabaseName == $"a{shard}";
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public async Task An_unknown_key_or_a_row_naming_no_shard_is_a_clear_error()
    {
        var missing = await Assert.ThrowsAsync<ShardKeyNotFoundException>(() => Map.ForKeyAsync("nobody").AsTask());
        Assert.Contains("'accounts'", missing.Message);
        Assert.Contains("nobody", missing.Message);
        Assert.Contains("shard_directory", missing.Message);

        await Map.AssignAsync("stray", "a0");
        await SetOutsideAsync("stray", "a9");
        Map.Invalidate("stray");
        var stray = await Assert.ThrowsAsync<ShardKeyNotFoundException>(() => Map.ForKeyAsync("stray").AsTask());
        Assert.Contains("'a9'", stray.Message);

        Assert.Throws<ArgumentException>(() => Map.AssignAsync("x", "nope").GetAwaiter().GetResult());
        var twice = await Assert.ThrowsAsync<DatabaseCommandException>(() => Map.AssignAsync("stray", "a1"));
        Assert.Equal(DatabaseErrorKind.UniqueViolation, twice.Kind);
    }

    [Fact]
    public async Task Answers_are_cached_until_invalidated_or_expired()
    {
        await Map.AssignAsync("acme", "a1");
        Assert.Equal("a1", (await Map.ForKeyAsync("acme")).DatabaseName);

        // Another process moves the key: this one keeps its cached answer until told (or until the TTL).
        await SetOutsideAsync("acme", "a2");
        Assert.Equal("a1", (await Map.ForKeyAsync("acme")).DatabaseName);
        Map.Invalidate("acme");
        Assert.Equal("a2", (await Map.ForKeyAsync("acme")).DatabaseName);

        // Moving through the map itself invalidates at once.
        Assert.True(await Map.ReassignAsync("acme", "a0"));
        Assert.Equal("a0", Map.ForKey("acme").DatabaseName);

        // With no cache lifetime, every lookup reads the table.
        await using var fresh = Catalog(TimeSpan.Zero);
        var map = fresh.Shards("accounts");
        Assert.Equal("a0", (await map.ForKeyAsync("acme")).DatabaseName);
        await SetOutsideAsync("acme", "a1");
        Assert.Equal("a1", (await map.ForKeyAsync("acme")).DatabaseName);
    }

    [Fact]
    public async Task Hash_and_range_maps_have_no_directory()
    {
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("x", "sqlite://:memory:")
            .AddShardMap("h", ShardStrategy.Hash, ["x"])
            .Build();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => catalog.Shards("h").AssignAsync("k", "x"));
        Assert.Contains("only lookup maps", error.Message);
    }
}
