namespace Switchboard.Tests.Routing;

/// <summary>The router chain (Django's routers, SQLAlchemy's binds) and scoped database overrides, over SQLite files.</summary>
public sealed class RouterChainTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "switchboard-routers-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private SwitchboardCatalogBuilder Builder() => SwitchboardCatalog.CreateBuilder()
        .AddDatabase("main", $"sqlite:///{_folder}/main.db")
        .AddDatabase("orders", $"sqlite:///{_folder}/orders.db")
        .AddDatabase("orders_replica", $"sqlite:///{_folder}/orders_replica.db")
        .AddDatabase("audit", $"sqlite:///{_folder}/audit.db");

    private sealed class Order;

    private sealed class Customer;

    private class AuditEntry;

    private sealed class LoginAudit : AuditEntry;

    private interface ITenantData;

    private sealed class Invoice : ITenantData;

    private sealed class Unrouted;

    /// <summary>Records every question it is asked and never has an opinion.</summary>
    private sealed class Silent : IDatabaseRouter
    {
        public List<string> Asked { get; } = [];

        public string? DatabaseForRead(RoutingRequest request)
        {
            Asked.Add("read " + request);
            return null;
        }

        public string? DatabaseForWrite(RoutingRequest request)
        {
            Asked.Add("write " + request);
            return null;
        }
    }

    /// <summary>Orders: written to 'orders', read from 'orders_replica'; relations only within the order databases.</summary>
    private sealed class OrdersRouter : IDatabaseRouter
    {
        private static readonly string[] OrderDatabases = ["orders", "orders_replica"];

        public string? DatabaseForRead(RoutingRequest request) => request.EntityType == typeof(Order) ? "orders_replica" : null;

        public string? DatabaseForWrite(RoutingRequest request) => request.EntityType == typeof(Order) ? "orders" : null;

        public bool? AllowRelation(RoutingRequest first, RoutingRequest second) =>
            first.EntityType == typeof(Order) || second.EntityType == typeof(Order) ? first.EntityType == second.EntityType : null;
    }

    /// <summary>Answers everything by hint, to show that an earlier router wins.</summary>
    private sealed class HintRouter : IDatabaseRouter
    {
        public string? DatabaseForRead(RoutingRequest request) => request.Hint;

        public string? DatabaseForWrite(RoutingRequest request) => request.Hint;
    }

    [Fact]
    public void Routers_are_asked_in_order_and_no_opinion_passes_to_the_next_then_binds_then_the_default()
    {
        var silent = new Silent();
        using var catalog = Builder()
            .AddRouter(silent)
            .AddRouter(new OrdersRouter())
            .AddRouter(new HintRouter())
            .Bind<Customer>("orders")
            .Bind<AuditEntry>("audit")
            .Bind<ITenantData>("orders")
            .UseDefaultDatabase("main")
            .Build();

        Assert.Equal("orders", catalog.DatabaseFor<Order>(SessionIntent.ReadWrite));
        Assert.Equal("orders_replica", catalog.DatabaseFor<Order>(SessionIntent.ReadOnly));
        Assert.Equal(["write Order", "read Order"], silent.Asked);

        // The hint router answers before the binds, but only when it has a hint.
        Assert.Equal("audit", catalog.DatabaseFor(new RoutingRequest(typeof(Customer), Hint: "audit")));
        Assert.Equal("orders", catalog.DatabaseFor<Customer>());
        Assert.Equal("audit", catalog.DatabaseFor<LoginAudit>());       // bound through its base class
        Assert.Equal("orders", catalog.DatabaseFor<Invoice>());         // bound through an interface
        Assert.Equal("main", catalog.DatabaseFor<Unrouted>());          // the default
        Assert.Equal("orders", catalog.DatabaseFor(new RoutingRequest(null, Hint: "ORDERS"))); // names are case-insensitive

        var unknown = Assert.Throws<UnknownDatabaseException>(() => catalog.DatabaseFor(new RoutingRequest(null, Hint: "ordres")));
        Assert.Contains("did you mean 'orders'", unknown.Message);

        using var session = catalog.OpenSessionFor<Order>(SessionIntent.ReadOnly);
        Assert.Equal("orders_replica", session.DatabaseName);
        Assert.Equal(SessionIntent.ReadOnly, session.Options.Intent);
    }

    [Fact]
    public void Relations_follow_the_first_router_with_an_opinion_else_the_same_database()
    {
        using var catalog = Builder().AddRouter(new Silent()).AddRouter(new OrdersRouter()).Bind<Customer>("orders").Bind<AuditEntry>("audit").Build();
        Assert.True(catalog.AllowsRelation<Order, Order>());
        Assert.False(catalog.AllowsRelation<Order, Customer>());       // the router says no, although both write to 'orders'
        Assert.True(catalog.AllowsRelation<Customer, Customer>());
        Assert.False(catalog.AllowsRelation<Customer, LoginAudit>());  // no opinion: different databases
    }

    [Fact]
    public void Without_an_answer_the_error_says_what_was_asked_and_lists_the_databases()
    {
        using var catalog = Builder().AddRouter(new Silent()).Build();
        var error = Assert.Throws<NoRouteException>(() => catalog.DatabaseFor<Unrouted>());
        Assert.Contains("writing Unrouted", error.Message);
        Assert.Contains("1 router", error.Message);
        Assert.Contains("audit, main, orders, orders_replica", error.Message);

        // With one database there is nothing to choose.
        using var single = SwitchboardCatalog.CreateBuilder().AddDatabase("only", $"sqlite:///{_folder}/only.db").Build();
        Assert.Equal("only", single.DatabaseFor<Unrouted>());
    }

    [Fact]
    public void Binds_and_the_default_database_must_name_configured_databases()
    {
        var error = Assert.Throws<CatalogConfigurationException>(() => Builder().Bind<Order>("ordrs").UseDefaultDatabase("mian").Build());
        Assert.Contains(error.Problems, p => p.Database == "ordrs" && p.Message.Contains("Order"));
        Assert.Contains(error.Problems, p => p.Database == "mian" && p.Key == "(default database)");
    }

    [Fact]
    public async Task A_database_scope_overrides_the_chain_across_await_and_in_started_tasks_and_nests()
    {
        using var catalog = Builder().AddRouter(new OrdersRouter()).UseDefaultDatabase("main").Build();
        Assert.Equal("orders", catalog.DatabaseFor<Order>());
        using (RoutingScope.UseDatabase("audit"))
        {
            await Task.Yield();
            Assert.Equal("audit", catalog.DatabaseFor<Order>());
            Assert.Equal("audit", await Task.Run(async () =>
            {
                await Task.Delay(1);
                return catalog.DatabaseFor<Customer>();
            }));

            using (RoutingScope.UseDatabase("orders_replica"))
            {
                await Task.Delay(1);
                Assert.Equal("orders_replica", catalog.DatabaseFor<Unrouted>());
            }

            Assert.Equal("audit", catalog.DatabaseFor<Unrouted>());

            // A flow that does not inherit the scope (an unrelated request) is not affected.
            Task<string> unrelated;
            using (ExecutionContext.SuppressFlow())
            {
                unrelated = Task.Run(() => catalog.DatabaseFor<Order>());
            }

            Assert.Equal("orders", await unrelated);
        }

        Assert.Null(RoutingScope.Current);
        Assert.Equal("main", catalog.DatabaseFor<Unrouted>());

        // A role scope makes sessions opened without an intent read-only (and the chain asks for reads).
        using (RoutingScope.UseRole(HostRole.Replica))
        {
            Assert.Equal("orders_replica", catalog.DatabaseFor<Order>());
            using var session = catalog.OpenSessionFor<Order>();
            Assert.Equal(SessionIntent.ReadOnly, session.Options.Intent);
            Assert.Equal("orders_replica", session.DatabaseName);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => RoutingScope.UseRole(HostRole.Unknown));
    }

    [Fact]
    public async Task Read_work_marked_retryable_runs_in_a_read_only_session_and_returns_its_result()
    {
        using var catalog = Builder().Build();
        await using (var setup = catalog.OpenSession("main"))
        {
            await setup.ExecuteAsync("CREATE TABLE t (x int); INSERT INTO t VALUES (41)");
            await setup.CommitAsync();
        }

        var attempts = 0;
        var value = await catalog.ReadAsync("main", async (session, ct) =>
        {
            attempts++;
            Assert.Equal(SessionIntent.ReadOnly, session.Options.Intent);
            return await session.ExecuteScalarAsync<int>("SELECT x + 1 FROM t", cancellationToken: ct);
        });
        Assert.Equal((42, 1), (value, attempts));
        Assert.Equal(41, catalog.Read("main", s => s.ExecuteScalar<int>("SELECT x FROM t")));

        // A write inside read-only work is refused by the server, and such an error is not retried.
        var tries = 0;
        await Assert.ThrowsAsync<DatabaseCommandException>(() => catalog.ReadAsync("main", (s, ct) =>
        {
            tries++;
            return s.ExecuteAsync("INSERT INTO t VALUES (1)", cancellationToken: ct);
        }));
        Assert.Equal(1, tries);
    }
}
