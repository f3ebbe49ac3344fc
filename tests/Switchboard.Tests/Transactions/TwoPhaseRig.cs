using Dapper;
using Switchboard.Internal;
using Switchboard.Tests.Rig;
using Switchboard.Transactions;

namespace Switchboard.Tests.Transactions;

/// <summary>The test process "dies" here: the coordinator stops dead, with no clean-up, as after kill -9.</summary>
public sealed class SimulatedCrashException(string point) : Exception("simulated crash at " + point);

/// <summary>
/// Three fresh databases for one test, each with <c>accounts (id, balance)</c> holding accounts 1 and 2 at 100:
/// <c>orders</c> on PostgreSQL, <c>billing</c> on MariaDB, <c>audit</c> in a SQLite file (the last resource), plus a
/// log folder of its own. <see cref="Observer"/> reads them directly, as another client would.
/// </summary>
public sealed class TwoPhaseRig : IAsyncDisposable
{
    private readonly List<SwitchboardCatalog> _catalogs = [];

    private TwoPhaseRig(DatabaseServers servers, string folder, string pgDatabase, string myDatabase)
    {
        Servers = servers;
        Folder = folder;
        PgDatabase = pgDatabase;
        MyDatabase = myDatabase;
        OrdersUrl = servers.PgUrl(pgDatabase);
        BillingUrl = servers.MyUrl(myDatabase);
        AuditUrl = "sqlite:///" + Path.Combine(folder, "audit.db");
    }

    public DatabaseServers Servers { get; }

    public string Folder { get; }

    public string LogFolder => Path.Combine(Folder, "log");

    public string PgDatabase { get; }

    public string MyDatabase { get; }

    public string OrdersUrl { get; }

    public string BillingUrl { get; }

    public string AuditUrl { get; }

    /// <summary>A catalog on the real servers, with no coordinator use of its own: what an outside client sees.</summary>
    public SwitchboardCatalog Observer { get; private set; } = null!;

    public static async Task<TwoPhaseRig> CreateAsync(DatabaseServers servers)
    {
        var folder = Path.Combine(Path.GetTempPath(), "sb-2pc-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(folder);
        var rig = new TwoPhaseRig(servers, folder, await servers.CreatePgDatabaseAsync("tx"), await servers.CreateMyDatabaseAsync("tx"));
        rig.Observer = rig.Track(SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", rig.OrdersUrl).AddDatabase("billing", rig.BillingUrl).AddDatabase("audit", rig.AuditUrl)
            .ConfigureTransactions(o => { o.LogFolder = Path.Combine(folder, "observer-log"); o.RecoverOnStart = false; })
            .Build());
        foreach (var database in new[] { "orders", "billing", "audit" })
        {
            await using var session = rig.Observer.OpenSession(database);
            await session.ExecuteAsync("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)");
            await session.ExecuteAsync("INSERT INTO accounts (id, balance) VALUES (1, 100), (2, 100)");
            await session.CommitAsync();
        }

        return rig;
    }

    /// <summary>A catalog like the application's: orders, billing and audit, the coordinator log in <see cref="LogFolder"/>.</summary>
    public SwitchboardCatalog Catalog(Action<TransactionCoordinatorOptions>? configure = null, string? ordersUrl = null, string? billingUrl = null,
        Action<SwitchboardCatalogBuilder>? more = null)
    {
        var builder = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", ordersUrl ?? OrdersUrl)
            .AddDatabase("billing", billingUrl ?? BillingUrl)
            .AddDatabase("audit", AuditUrl)
            .ConfigureTransactions(o =>
            {
                o.LogFolder = LogFolder;
                o.CoordinatorName = "tests";
                o.RecoverOnStart = false;
                o.RetryInterval = TimeSpan.FromMilliseconds(200);
                o.MaxRetryInterval = TimeSpan.FromSeconds(1);
                configure?.Invoke(o);
            });
        more?.Invoke(builder);
        return Track(builder.Build());
    }

    public SwitchboardCatalog Track(SwitchboardCatalog catalog)
    {
        _catalogs.Add(catalog);
        return catalog;
    }

    public async Task<long> BalanceAsync(string database, int id)
    {
        await using var connection = await Observer.GetEngine(database).OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT balance FROM accounts WHERE id = @id", new { id });
    }

    public async Task<(long Orders, long Billing, long Audit)> BalancesAsync(int id) =>
        (await BalanceAsync("orders", id), await BalanceAsync("billing", id), await BalanceAsync("audit", id));

    /// <summary>Prepared branches left on the PostgreSQL database and the MariaDB server whose id holds <paramref name="fragment"/>.</summary>
    public async Task<IReadOnlyList<string>> PreparedAsync(string fragment)
    {
        var result = new List<string>();
        foreach (var database in new[] { "orders", "billing" })
        {
            var engine = Observer.GetEngine(database);
            await using var connection = await engine.OpenConnectionAsync();
            var branches = await engine.Dialect.ListPreparedAsync(connection, true, CancellationToken.None);
            result.AddRange(branches.Select(b => b.Branch.ToString()).Where(b => b.Contains(fragment, StringComparison.Ordinal)));
        }

        return result;
    }

    /// <summary>Rows in the participants' own decision tables (commit records of branches), 0 where the table does not exist.</summary>
    public async Task<(long Orders, long Billing)> CommitRecordsAsync()
    {
        async Task<long> CountAsync(string database)
        {
            await using var connection = await Observer.GetEngine(database).OpenConnectionAsync();
            try
            {
                return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM switchboard_tx_decision");
            }
            catch (System.Data.Common.DbException)
            {
                return 0; // never created
            }
        }

        return (await CountAsync("orders"), await CountAsync("billing"));
    }

    /// <summary>The log id part of a transaction id: every branch of this coordinator's log carries it.</summary>
    public static string LogIdOf(string transactionId) =>
        GlobalTransactionId.TryParse(transactionId, out var id) ? "." + id.LogId + "." : throw new ArgumentException(transactionId);

    public static async Task TransferAsync(DistributedTransaction tx, string from, string to, int amount, bool async)
    {
        if (async)
        {
            await Task.WhenAll(
                tx.Session(from).ExecuteAsync("UPDATE accounts SET balance = balance - @amount WHERE id = 1", new { amount }),
                tx.Session(to).ExecuteAsync("UPDATE accounts SET balance = balance + @amount WHERE id = 1", new { amount }));
        }
        else
        {
            tx.Session(from).Execute("UPDATE accounts SET balance = balance - @amount WHERE id = 1", new { amount });
            tx.Session(to).Execute("UPDATE accounts SET balance = balance + @amount WHERE id = 1", new { amount });
        }
    }

    /// <summary>Waits (up to <paramref name="seconds"/>) until a condition holds; returns whether it did.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(100);
        }

        return await condition();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var catalog in _catalogs)
        {
            await catalog.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal static IOBehavior Io(bool async) => async ? IOBehavior.Asynchronous : IOBehavior.Synchronous;
}
