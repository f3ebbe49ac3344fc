using System.Data;
using System.Data.Common;
using Dapper;

namespace Switchboard.Tests.Sessions;

/// <summary>
/// What every dialect must do, run against a real database of each kind (SQLite file, PostgreSQL, MariaDB).
/// Each [Theory] with a bool runs once synchronously and once asynchronously.
/// </summary>
public abstract class SessionContractTests
{
    /// <summary>A URL for a fresh, empty database.</summary>
    protected abstract Task<string> NewDatabaseUrlAsync();

    /// <summary>A URL that points at nothing (a closed port, a missing folder).</summary>
    protected abstract string UnreachableUrl { get; }

    /// <summary>A URL with the right host and a wrong password (null where there is no password).</summary>
    protected abstract string? WrongPasswordUrl { get; }

    /// <summary>Whether <see cref="UnreachableUrl"/> may work later: a server that is down may come back; a missing folder will not.</summary>
    protected virtual bool UnreachableIsTransient => true;

    /// <summary>The secret of <see cref="WrongPasswordUrl"/> and of the real URLs, which must never be printed.</summary>
    protected abstract IReadOnlyList<string> Secrets { get; }

    /// <summary>A query returning the current transaction's isolation level, lower case, words separated by a space.</summary>
    protected abstract string IsolationQuery { get; }

    protected virtual string AccountsTable =>
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner VARCHAR(50) NOT NULL UNIQUE, balance INTEGER NOT NULL)";

    protected async Task<SwitchboardCatalog> CatalogAsync(Action<DatabaseOptions>? configure = null)
    {
        var url = await NewDatabaseUrlAsync();
        var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("main", url, configure).Build();
        await using var setup = catalog.OpenSession("main");
        await setup.ExecuteAsync(AccountsTable);
        await setup.ExecuteAsync("INSERT INTO accounts (id, owner, balance) VALUES (1, 'ada', 100)");
        await setup.CommitAsync();
        return catalog;
    }

    /// <summary>Counts rows on a connection of its own, outside any session: what another client would see.</summary>
    protected static async Task<long> CountFromOutsideAsync(SwitchboardCatalog catalog, string where = "1=1")
    {
        await using var connection = await catalog.GetEngine("main").OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM accounts WHERE {where}");
    }

    private static Task Insert(DatabaseSession s, bool async, int id, string owner) => async
        ? s.ExecuteAsync("INSERT INTO accounts (id, owner, balance) VALUES (@id, @owner, 0)", new { id, owner })
        : Task.FromResult(s.Execute("INSERT INTO accounts (id, owner, balance) VALUES (@id, @owner, 0)", new { id, owner }));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Commit_is_visible_from_another_connection(bool async)
    {
        await using var catalog = await CatalogAsync();
        var session = catalog.OpenSession("main");
        Assert.Null(session.Target); // nothing ran yet
        await Insert(session, async, 2, "bob");
        Assert.True(session.IsActive);
        Assert.Equal(0, await CountFromOutsideAsync(catalog, "owner = 'bob'"));
        if (async)
        {
            await session.CommitAsync();
        }
        else
        {
            session.Commit();
        }

        Assert.False(session.IsActive);
        Assert.Equal(catalog.GetDefinition("main").Target, session.Target); // where the write went, still known after the commit
        Assert.Equal(1, await CountFromOutsideAsync(catalog, "owner = 'bob'"));
        await session.DisposeAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Rollback_discards_the_work(bool async)
    {
        await using var catalog = await CatalogAsync();
        await using var session = catalog.OpenSession("main");
        await Insert(session, async, 2, "bob");
        if (async)
        {
            await session.RollbackAsync();
        }
        else
        {
            session.Rollback();
        }

        Assert.Equal(0, await CountFromOutsideAsync(catalog, "owner = 'bob'"));

        // The session goes on: the next use begins a new transaction.
        await Insert(session, async, 3, "cy");
        await session.CommitAsync();
        Assert.Equal(1, await CountFromOutsideAsync(catalog, "owner = 'cy'"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Dispose_without_commit_rolls_back_and_returns_the_connection(bool async)
    {
        await using var catalog = await CatalogAsync();
        var session = catalog.OpenSession("main");
        await Insert(session, async, 2, "bob");
        Assert.Equal(1, catalog.GetEngine("main").GetPoolStatistics().InUse);
        if (async)
        {
            await session.DisposeAsync();
        }
        else
        {
            session.Dispose();
        }

        Assert.Equal(0, catalog.GetEngine("main").GetPoolStatistics().InUse);
        Assert.Equal(0, await CountFromOutsideAsync(catalog, "owner = 'bob'"));
        Assert.Throws<ObjectDisposedException>(() => session.Commit());
    }

    [Fact]
    public async Task A_session_takes_no_connection_until_first_use()
    {
        await using var catalog = await CatalogAsync();
        var engine = catalog.GetEngine("main");
        var before = engine.GetPoolStatistics().TotalCheckouts;
        await using var session = catalog.OpenSession("main");
        Assert.Equal(before, engine.GetPoolStatistics().TotalCheckouts);
        Assert.False(session.IsActive);
        await session.CommitAsync(); // nothing to commit: no connection taken either
        Assert.Equal(before, engine.GetPoolStatistics().TotalCheckouts);
        _ = await session.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM accounts");
        Assert.Equal(before + 1, engine.GetPoolStatistics().TotalCheckouts);
        Assert.Equal(1, engine.GetPoolStatistics().InUse);
    }

    [Fact]
    public async Task Engines_are_created_once_under_concurrency()
    {
        var url = await NewDatabaseUrlAsync();
        await using var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("main", url).AddDatabase("other", url).Build();
        Assert.Equal(0, catalog.EnginesCreated);
        using var start = new ManualResetEventSlim();
        var tasks = Enumerable.Range(0, 32).Select(_ => Task.Run(() =>
        {
            start.Wait();
            return catalog.GetEngine("main");
        })).ToArray();
        start.Set();
        var engines = await Task.WhenAll(tasks);
        Assert.All(engines, e => Assert.Same(engines[0], e));
        Assert.Equal(1, catalog.EnginesCreated);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Dapper_and_plain_ADO_NET_work_on_the_session_connection(bool async)
    {
        await using var catalog = await CatalogAsync();
        await using var session = catalog.OpenSession("main");
        var connection = async ? await session.GetConnectionAsync() : session.Connection;
        var transaction = async ? await session.GetTransactionAsync() : session.Transaction;
        await connection.ExecuteAsync("UPDATE accounts SET balance = balance + 5 WHERE id = 1", transaction: transaction);
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT balance FROM accounts WHERE id = 1";
            Assert.Equal(105L, Convert.ToInt64(await command.ExecuteScalarAsync()));
        }

        var rows = await connection.QueryAsync<Account>("SELECT id, owner, balance FROM accounts", transaction: transaction);
        Assert.Equal("ada", Assert.Single(rows).Owner);
        await session.CommitAsync();
        Assert.Equal(1, await CountFromOutsideAsync(catalog, "balance = 105"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Query_helpers_map_rows_with_parameters(bool async)
    {
        await using var catalog = await CatalogAsync();
        await using var session = catalog.OpenSession("main");
        await Insert(session, async, 2, "bob");
        var rows = async
            ? await session.QueryAsync<Account>("SELECT id, owner, balance FROM accounts WHERE balance >= @min ORDER BY id", new { min = 0 })
            : session.Query<Account>("SELECT id, owner, balance FROM accounts WHERE balance >= @min ORDER BY id", new { min = 0 });
        Assert.Equal(["ada", "bob"], rows.Select(r => r.Owner));
        var single = async
            ? await session.QuerySingleAsync<Account>("SELECT id, owner, balance FROM accounts WHERE id = @id", new { id = 1 })
            : session.QuerySingle<Account>("SELECT id, owner, balance FROM accounts WHERE id = @id", new { id = 1 });
        Assert.Equal(100, single.Balance);
        var none = async
            ? await session.QueryFirstOrDefaultAsync<Account>("SELECT id, owner, balance FROM accounts WHERE id = @id", new { id = 99 })
            : session.QueryFirstOrDefault<Account>("SELECT id, owner, balance FROM accounts WHERE id = @id", new { id = 99 });
        Assert.Null(none);
    }

    [Fact]
    public async Task A_failed_statement_names_the_database_and_its_kind()
    {
        await using var catalog = await CatalogAsync();
        await using var session = catalog.OpenSession("main");
        var error = await Assert.ThrowsAsync<DatabaseCommandException>(() =>
            session.ExecuteAsync("INSERT INTO accounts (id, owner, balance) VALUES (1, 'ada', 0)"));
        Assert.Equal("main", error.DatabaseName);
        Assert.Equal(DatabaseErrorKind.UniqueViolation, error.Kind);
        Assert.Contains("'main'", error.Message);
        var target = catalog.GetDefinition("main").Target;
        Assert.Equal(target, error.Target);
        Assert.Contains(" at " + target + " (", error.Message); // the host, for an operator to find the server
        Assert.IsAssignableFrom<DbException>(error.InnerException);
        await session.RollbackAsync(); // PostgreSQL aborts the transaction on any error

        var missing = await Assert.ThrowsAsync<DatabaseCommandException>(() => session.ExecuteAsync("SELECT * FROM no_such_table"));
        Assert.Equal(DatabaseErrorKind.UndefinedObject, missing.Kind);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_read_only_session_cannot_write(bool async)
    {
        await using var catalog = await CatalogAsync();
        await using (var reader = catalog.OpenSession("main", SessionIntent.ReadOnly))
        {
            Assert.Equal(1, await reader.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM accounts"));
            var error = async
                ? await Assert.ThrowsAsync<DatabaseCommandException>(() => reader.ExecuteAsync("UPDATE accounts SET balance = 0"))
                : Assert.Throws<DatabaseCommandException>(() => reader.Execute("UPDATE accounts SET balance = 0"));
            Assert.Equal(DatabaseErrorKind.ReadOnlyTransaction, error.Kind);
        }

        // The read-only mode does not stick to the pooled connection.
        await using var writer = catalog.OpenSession("main");
        Assert.Equal(1, await writer.ExecuteAsync("UPDATE accounts SET balance = 1 WHERE id = 1"));
        await writer.CommitAsync();
        Assert.Equal(1, await CountFromOutsideAsync(catalog, "balance = 1"));
    }

    [Fact]
    public async Task The_isolation_level_option_reaches_the_server()
    {
        await using var catalog = await CatalogAsync();
        await using var serializable = catalog.OpenSession("main", new SessionOptions { IsolationLevel = IsolationLevel.Serializable });
        Assert.Equal("serializable", (await serializable.ExecuteScalarAsync<string>(IsolationQuery))!.ToLowerInvariant().Replace('-', ' '));
        await serializable.CommitAsync();

        await using var readCommitted = catalog.OpenSession("main", new SessionOptions { IsolationLevel = IsolationLevel.ReadCommitted });
        Assert.Equal(ExpectedReadCommitted, (await readCommitted.ExecuteScalarAsync<string>(IsolationQuery))!.ToLowerInvariant().Replace('-', ' '));
    }

    /// <summary>What <see cref="IsolationQuery"/> returns for a ReadCommitted session (SQLite has only serializable).</summary>
    protected virtual string ExpectedReadCommitted => "read committed";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_exhausted_pool_times_out_with_a_clear_error(bool async)
    {
        await using var catalog = await CatalogAsync(o =>
        {
            o.Pool.MaxSize = 2;
            o.Pool.CheckoutTimeout = TimeSpan.FromSeconds(1);
        });
        // Read-only sessions: SQLite would otherwise queue the second writer on its file lock.
        await using var first = catalog.OpenSession("main", SessionIntent.ReadOnly);
        await using var second = catalog.OpenSession("main", SessionIntent.ReadOnly);
        await first.GetConnectionAsync();
        await second.GetConnectionAsync();
        var stats = catalog.GetEngine("main").GetPoolStatistics();
        Assert.Equal(2, stats.InUse);
        Assert.Equal(0, stats.Available);

        await using var third = catalog.OpenSession("main", SessionIntent.ReadOnly);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var error = async
            ? await Assert.ThrowsAsync<PoolTimeoutException>(async () => await third.GetConnectionAsync())
            : Assert.Throws<PoolTimeoutException>(() => third.Connection);
        Assert.InRange(started.ElapsedMilliseconds, 900, 10_000);
        Assert.Equal("main", error.DatabaseName);
        Assert.Contains("'main'", error.Message);
        Assert.Contains("2 pooled connections", error.Message);
        Assert.True(error.IsTransient);
        Assert.Equal(1, catalog.GetEngine("main").GetPoolStatistics().Timeouts);

        // Releasing one lets a waiter in.
        var waiter = Task.Run(async () => await third.GetConnectionAsync());
        await WaitUntil(() => catalog.GetEngine("main").GetPoolStatistics().Waiting == 1);
        Assert.False(waiter.IsCompleted);
        await first.CommitAsync();
        await waiter.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2, catalog.GetEngine("main").GetPoolStatistics().InUse);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_session_cancelled_before_its_first_statement_gives_its_connection_back(bool warmPool)
    {
        await using var catalog = await CatalogAsync(o =>
        {
            o.Pool.MaxSize = 1;
            o.Pool.CheckoutTimeout = TimeSpan.FromSeconds(2);
        });
        if (warmPool)
        {
            await using var warm = catalog.OpenSession("main");
            await warm.ExecuteAsync("SELECT 1");
            await warm.CommitAsync();
        }

        // Cancelled at once: whether the checkout or BEGIN sees it first, the one connection must come back (on
        // PostgreSQL a cancelled BEGIN kept it, and every later session timed out waiting for the pool).
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        for (var i = 0; i < 3; i++)
        {
            await using var session = catalog.OpenSession("main");
            var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => session.ExecuteAsync("SELECT 1", cancellationToken: cancelled.Token));
            Assert.Contains("'main'", error.Message);
        }

        Assert.Equal(0, catalog.GetEngine("main").GetPoolStatistics().InUse);
        await using var next = catalog.OpenSession("main");
        Assert.Equal(1, await next.ExecuteScalarAsync<int>("SELECT 1"));
    }

    protected static async Task WaitUntil(Func<bool> condition, int timeoutMs = 5000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_unreachable_database_fails_clearly_without_secrets(bool async)
    {
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("ghost", UnreachableUrl, o => o.ConnectTimeout = TimeSpan.FromSeconds(3)).Build();
        await using var session = catalog.OpenSession("ghost");
        var error = async
            ? await Assert.ThrowsAsync<DatabaseConnectionException>(async () => await session.GetConnectionAsync())
            : Assert.Throws<DatabaseConnectionException>(() => session.Connection);
        Assert.Equal("ghost", error.DatabaseName);
        Assert.Contains("'ghost'", error.Message);
        Assert.Contains(catalog.GetDefinition("ghost").Target, error.Message);
        AssertNoSecrets(error.ToString());
        Assert.Equal(0, catalog.GetEngine("ghost").GetPoolStatistics().InUse);
        Assert.Equal(1, catalog.GetEngine("ghost").GetPoolStatistics().ConnectFailures);
        Assert.Equal(UnreachableIsTransient, error.IsTransient);
    }

    [Fact]
    public async Task A_wrong_password_fails_clearly_without_printing_it()
    {
        if (WrongPasswordUrl is null)
        {
            return; // SQLite has no password: nothing to leak. (The test still runs for the two server dialects.)
        }

        var logs = new Rig.CapturingLoggerFactory();
        await using var catalog = SwitchboardCatalog.CreateBuilder().UseLoggerFactory(logs).AddDatabase("locked", WrongPasswordUrl).Build();
        Assert.DoesNotContain("wrong-Pa55", catalog.GetDefinition("locked").ToString());
        var error = await Assert.ThrowsAsync<DatabaseConnectionException>(async () => await catalog.GetEngine("locked").PingAsync());
        Assert.Contains("'locked'", error.Message);
        Assert.False(error.IsTransient); // retrying a refused password cannot help
        AssertNoSecrets(error.ToString());
        Assert.DoesNotContain("wrong-Pa55", error.ToString());
        var check = Assert.Single(await catalog.CheckAsync());
        Assert.False(check.Ok);
        Assert.DoesNotContain("wrong-Pa55", check.Error);

        // The failure was logged, naming the database, and no log line carries the password.
        Assert.Contains(logs.Lines, l => l.Contains("locked", StringComparison.Ordinal) && l.Contains("Warning", StringComparison.Ordinal));
        Assert.All(logs.Lines, l => Assert.DoesNotContain("wrong-Pa55", l));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Ping_measures_a_round_trip_and_learns_the_server_version(bool async)
    {
        await using var catalog = await CatalogAsync();
        var engine = catalog.GetEngine("main");
        var latency = async ? await engine.PingAsync() : engine.Ping();
        Assert.InRange(latency, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(5));
        Assert.False(string.IsNullOrWhiteSpace(engine.ServerVersion));
        var check = Assert.Single(await catalog.CheckAsync());
        Assert.True(check.Ok, check.Error);
        Assert.Equal(engine.ServerVersion, check.ServerVersion);
        Assert.Equal(0, engine.GetPoolStatistics().InUse);
    }

    [Fact]
    public async Task Many_concurrent_sessions_never_exceed_the_pool_size()
    {
        await using var catalog = await CatalogAsync(o => o.Pool.MaxSize = 3);
        var engine = catalog.GetEngine("main");
        var peak = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 40), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            await using var session = catalog.OpenSession("main", SessionIntent.ReadOnly);
            await session.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM accounts", cancellationToken: ct);
            var inUse = engine.GetPoolStatistics().InUse;
            InterlockedMax(ref peak, inUse);
            await session.CommitAsync(ct);
        });
        Assert.InRange(peak, 1, 3);
        Assert.Equal(0, engine.GetPoolStatistics().InUse);
    }

    protected void AssertNoSecrets(string? text)
    {
        foreach (var secret in Secrets)
        {
            Assert.DoesNotContain(secret, text ?? "");
            Assert.DoesNotContain(Uri.EscapeDataString(secret), text ?? "");
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    public sealed record Account(long Id, string Owner, long Balance)
    {
        public Account()
            : this(0, "", 0)
        {
        }
    }
}
