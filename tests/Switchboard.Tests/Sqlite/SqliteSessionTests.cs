using Switchboard.Tests.Sessions;

namespace Switchboard.Tests.Sqlite;

public sealed class SqliteSessionTests : SessionContractTests, IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "switchboard-sqlite-" + Guid.NewGuid().ToString("N")[..8]);

    protected override Task<string> NewDatabaseUrlAsync() =>
        Task.FromResult($"sqlite:///{_folder}/{Guid.NewGuid():N}.db");

    // mode=rw does not create the file, and the folder does not exist.
    protected override string UnreachableUrl => "sqlite:////nonexistent-folder/missing.db?mode=rw";

    protected override bool UnreachableIsTransient => false; // a file that is not there stays missing

    protected override string? WrongPasswordUrl => null;

    protected override IReadOnlyList<string> Secrets => [];

    protected override string IsolationQuery =>
        "SELECT CASE WHEN (SELECT read_uncommitted FROM pragma_read_uncommitted) = 1 THEN 'read uncommitted' ELSE 'serializable' END";

    protected override string ExpectedReadCommitted => "serializable";

    // About a minute of work if nothing stops it.
    private const string LongQuery = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) SELECT COUNT(*) FROM c";

    [Fact]
    public async Task A_long_statement_is_stopped_at_its_command_timeout_and_by_its_token()
    {
        // Microsoft.Data.Sqlite's own command timeout only bounds waiting for a lock, and it checks the token only
        // between steps: the session interrupts the statement itself.
        await using var catalog = await CatalogAsync(o => o.CommandTimeout = TimeSpan.FromSeconds(1));
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using (var session = catalog.OpenSession("main"))
        {
            session.Execute("INSERT INTO accounts (id, owner, balance) VALUES (41, 'before', 1)");
            var error = Assert.Throws<DatabaseCommandException>(() => session.ExecuteScalar<long>(LongQuery));
            Assert.Equal(DatabaseErrorKind.Timeout, error.Kind);
            Assert.Contains("command timeout", error.Message);

            // An interrupted write would have rolled the whole transaction back in SQLite, and later statements would run
            // outside it: the session refuses them, and the commit, until it is rolled back.
            Assert.Contains("interrupted", Assert.Throws<InvalidOperationException>(() => session.Execute("INSERT INTO accounts (id, owner, balance) VALUES (42, 'after', 1)")).Message);
            Assert.Contains("interrupted", Assert.Throws<InvalidOperationException>(() => session.Commit()).Message);
        }

        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(15));
        Assert.Equal(0, await CountFromOutsideAsync(catalog, "id IN (41, 42)"));

        started.Restart();
        await using (var session = catalog.OpenSession("main", new SessionOptions { CommandTimeout = TimeSpan.FromMinutes(5) }))
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => session.ExecuteScalarAsync<long>(LongQuery, cancellationToken: cancel.Token));
            Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(0.2), TimeSpan.FromSeconds(15));

            // After a rollback the session starts afresh.
            await session.RollbackAsync();
            Assert.Equal(3, await session.ExecuteScalarAsync<long>("SELECT 1 + 2"));
        }
    }

    [Fact]
    public async Task A_new_file_database_is_created_in_WAL_mode_with_its_folder()
    {
        var url = $"sqlite:///{_folder}/nested/deeper/app.db";
        await using var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("app", url).Build();
        await using var session = catalog.OpenSession("app");
        Assert.Equal("wal", await session.ExecuteScalarAsync<string>("PRAGMA journal_mode"));
        Assert.Equal(1L, await session.ExecuteScalarAsync<long>("PRAGMA foreign_keys"));
        Assert.True(File.Exists(Path.Combine(_folder, "nested", "deeper", "app.db")));
    }

    [Fact]
    public async Task An_in_memory_database_is_shared_by_the_engine_and_private_to_it()
    {
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("a", "sqlite://:memory:").AddDatabase("b", "sqlite://:memory:").Build();
        await using (var s = catalog.OpenSession("a"))
        {
            await s.ExecuteAsync("CREATE TABLE t (x INTEGER)");
            await s.ExecuteAsync("INSERT INTO t VALUES (42)");
            await s.CommitAsync();
        }

        await using (var s = catalog.OpenSession("a"))
        {
            Assert.Equal(42L, await s.ExecuteScalarAsync<long>("SELECT x FROM t"));
        }

        await using var other = catalog.OpenSession("b");
        var error = await Assert.ThrowsAsync<DatabaseCommandException>(() => other.ExecuteScalarAsync<long>("SELECT x FROM t"));
        Assert.Equal(DatabaseErrorKind.UndefinedObject, error.Kind);
    }

    [Fact]
    public async Task Two_writers_queue_instead_of_failing()
    {
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("app", $"sqlite:///{_folder}/writers.db", o => o.CommandTimeout = TimeSpan.FromSeconds(10)).Build();
        await using (var s = catalog.OpenSession("app"))
        {
            await s.ExecuteAsync("CREATE TABLE counter (n INTEGER NOT NULL)");
            await s.ExecuteAsync("INSERT INTO counter VALUES (0)");
            await s.CommitAsync();
        }

        await Parallel.ForEachAsync(Enumerable.Range(0, 50), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (_, ct) =>
        {
            await using var s = catalog.OpenSession("app");
            var n = await s.ExecuteScalarAsync<long>("SELECT n FROM counter", cancellationToken: ct);
            await s.ExecuteAsync("UPDATE counter SET n = @n", new { n = n + 1 }, ct);
            await s.CommitAsync(ct);
        });

        await using var check = catalog.OpenSession("app");
        Assert.Equal(50L, await check.ExecuteScalarAsync<long>("SELECT n FROM counter"));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
