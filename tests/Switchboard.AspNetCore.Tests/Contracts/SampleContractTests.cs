using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Switchboard.AspNetCore.Tests.Infrastructure;
using Switchboard.Sample.WebApi;

namespace Switchboard.AspNetCore.Tests.Contracts;

/// <summary>
/// The sample web API, started as it ships (its Program's builder, real Kestrel on 127.0.0.1), with its three databases
/// pointed at fresh ones: placing orders (Dapper on sessions, one unit of work over "orders" and "audit"), reading them
/// back through a read-only EF Core context, the legacy catalogue through Dapper, and /health.
/// </summary>
public abstract class SampleContractTests : IAsyncLifetime
{
    private RunningApp _app = null!;

    /// <summary>URLs of fresh databases for "orders", "legacy" and "audit".</summary>
    protected abstract Task<(string Orders, string Legacy, string Audit)> DatabasesAsync();

    /// <summary>The dialect each database should report in /health.</summary>
    protected abstract (string Orders, string Legacy, string Audit) Dialects { get; }

    /// <summary>Passwords that must never appear in a response.</summary>
    protected abstract IReadOnlyList<string> Secrets { get; }

    protected HttpClient Client => _app.Client;

    protected SwitchboardCatalog Catalog { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var (orders, legacy, audit) = await DatabasesAsync();
        var app = SampleApp.Create(["--urls=http://127.0.0.1:0", "--environment=Testing"], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Databases:orders:Url"] = orders,
                ["Databases:legacy:Url"] = legacy,
                ["Databases:audit:Url"] = audit,

                // A log of this test's own: one in the working directory would make every catalog built later in this
                // process run recovery over its databases at start-up.
                ["Transactions:LogFolder"] = Path.Combine(Path.GetTempPath(), "sb-sample-log-" + Guid.NewGuid().ToString("N")[..8]),
            });
        });
        _app = await RunningApp.StartAsync(app);
        Catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("orders", orders).AddDatabase("legacy", legacy).AddDatabase("audit", audit).Build();
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await Catalog.DisposeAsync();
    }

    protected async Task<long> CountAsync(string database, string table, string where = "1=1")
    {
        await using var session = Catalog.OpenSession(database);
        return await session.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {table} WHERE {where}");
    }

    [Fact]
    public async Task An_order_is_written_with_its_audit_line_and_read_back_through_EF_Core()
    {
        using var created = await Client.PostJsonAsync("/orders", new NewOrder("ada", "KB-01", 2));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.JsonAsync();
        var id = body.GetProperty("id").GetInt64();
        Assert.Equal(99.80m, body.GetProperty("total").GetDecimal());
        Assert.Equal($"/orders/{id}", created.Headers.Location?.ToString());

        var list = await (await Client.GetAsync("/orders")).JsonAsync();
        var order = Assert.Single(list.EnumerateArray());
        Assert.Equal("ada", order.GetProperty("customer").GetString());
        Assert.Equal(2, order.GetProperty("quantity").GetInt32());
        Assert.Equal(99.80m, order.GetProperty("total").GetDecimal());
        Assert.Equal(id, (await (await Client.GetAsync($"/orders/{id}")).JsonAsync()).GetProperty("id").GetInt64());
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync($"/orders/{id + 1000}")).StatusCode);

        var audit = await (await Client.GetAsync("/audit")).JsonAsync();
        Assert.Contains(audit.EnumerateArray(), a => a.GetProperty("action").GetString() == $"order {id} placed by ada");
        Assert.Equal(1, await CountAsync("orders", "orders"));
        Assert.Equal(1, await CountAsync("audit", "audit_log"));
    }

    [Fact]
    public async Task An_unknown_product_or_a_bad_quantity_writes_nothing()
    {
        using (var unknown = await Client.PostJsonAsync("/orders", new NewOrder("bob", "NOPE", 1)))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        using (var bad = await Client.PostJsonAsync("/orders", new NewOrder("bob", "KB-01", 0)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        Assert.Equal(0, await CountAsync("orders", "orders"));
        Assert.Equal(0, await CountAsync("audit", "audit_log"));
    }

    [Fact]
    public async Task The_legacy_catalogue_is_read_and_written_with_Dapper()
    {
        var catalogue = await (await Client.GetAsync("/catalogue")).JsonAsync();
        Assert.Equal(["KB-01", "MN-27", "MS-02"], catalogue.EnumerateArray().Select(p => p.GetProperty("sku").GetString()));
        Assert.Equal(22900, (await (await Client.GetAsync("/catalogue/MN-27")).JsonAsync()).GetProperty("priceCents").GetInt64());

        using var put = await Client.PutAsJsonAsync("/catalogue/CB-1", new { sku = "CB-1", name = "Cable", priceCents = 300 });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(1, await CountAsync("legacy", "products", "sku = 'CB-1' AND price_cents = 300"));
        using var order = await Client.PostJsonAsync("/orders", new NewOrder("cy", "CB-1", 3));
        Assert.Equal(9.00m, (await order.JsonAsync()).GetProperty("total").GetDecimal());
    }

    [Fact]
    public async Task Health_lists_every_database_with_its_dialect_role_and_latency_and_no_secret()
    {
        using var response = await Client.GetAsync("/health");
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var health = await response.JsonAsync();
        Assert.Equal("Healthy", health.GetProperty("status").GetString());
        var checks = health.GetProperty("checks");
        foreach (var (name, dialect) in new[] { ("orders", Dialects.Orders), ("legacy", Dialects.Legacy), ("audit", Dialects.Audit) })
        {
            var check = checks.GetProperty(name);
            Assert.Equal("Healthy", check.GetProperty("status").GetString());
            Assert.Equal(dialect, check.GetProperty("data").GetProperty("dialect").GetString());
            Assert.Equal("primary", check.GetProperty("data").GetProperty("role").GetString());
            Assert.True(check.GetProperty("data").GetProperty("latency_ms").GetDouble() >= 0);
            Assert.Contains(dialect, check.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        }

        Assert.All(Secrets, secret => Assert.DoesNotContain(secret, text));

        // Readable, not HTML-escaped: descriptions and versions keep their apostrophes and plus signs.
        Assert.DoesNotContain("\\u0027", text);
        Assert.DoesNotContain("\\u002B", text);
    }

    /// <summary>What "protocol" the pay endpoint reports for these databases.</summary>
    protected abstract string ExpectedProtocol { get; }

    /// <summary>What is prepared on the servers (nothing for SQLite): branch ids, each with its transaction id.</summary>
    protected virtual Task<IReadOnlyList<string>> PreparedAsync() => Task.FromResult<IReadOnlyList<string>>([]);

    /// <summary>
    /// The prepared branches this app left on the servers: those carrying its log's id. Tests of other assemblies running
    /// at the same time prepare their own on the same MariaDB server, whose XA RECOVER lists every database's.
    /// </summary>
    private async Task<IReadOnlyList<string>> LeftPreparedAsync()
    {
        var prepared = await PreparedAsync();
        return Catalog.Transactions.LogId is { } logId ? [.. prepared.Where(p => p.Contains("." + logId + ".", StringComparison.Ordinal))] : [];
    }

    private async Task<long> PlaceOrderAsync(string customer, string sku, int quantity)
    {
        using var created = await Client.PostJsonAsync("/orders", new NewOrder(customer, sku, quantity));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.JsonAsync()).GetProperty("id").GetInt64();
    }

    [Fact]
    public async Task Paying_marks_the_order_paid_and_books_the_ledger_in_one_distributed_transaction()
    {
        var id = await PlaceOrderAsync("ada", "MN-27", 2);
        using var paid = await Client.PostAsync($"/orders/{id}/pay", null);
        var body = await paid.JsonAsync();
        Assert.Equal(HttpStatusCode.OK, paid.StatusCode);
        Assert.Equal(ExpectedProtocol, body.GetProperty("protocol").GetString());
        Assert.Equal(45800, body.GetProperty("amountCents").GetInt64());
        Assert.All(body.GetProperty("participants").EnumerateArray(), p => Assert.Equal("Committed", p.GetProperty("outcome").GetString()));

        Assert.Equal(1, await CountAsync("orders", "orders", $"id = {id} AND paid_at IS NOT NULL"));
        Assert.Equal(1, await CountAsync("legacy", "ledger", $"order_id = {id} AND amount_cents = 45800"));
        var order = await (await Client.GetAsync($"/orders/{id}")).JsonAsync();
        Assert.NotEqual(JsonValueKind.Null, order.GetProperty("paidAt").ValueKind);

        // Paying twice changes nothing.
        using var again = await Client.PostAsync($"/orders/{id}/pay", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(1, await CountAsync("legacy", "ledger", $"order_id = {id}"));
        Assert.Empty(await LeftPreparedAsync());
    }

    [Fact]
    public async Task A_failure_in_the_second_write_rolls_both_databases_back()
    {
        var id = await PlaceOrderAsync("bob", "KB-01", 1);

        // A ledger line for this order already exists (booked by hand): the ledger insert in "legacy" fails after the
        // order was already marked paid in "orders" inside the same transaction.
        await using (var legacy = Catalog.OpenSession("legacy"))
        {
            await legacy.ExecuteAsync("INSERT INTO ledger (id, order_id, amount_cents, booked_at) VALUES ('manual', @id, 1, 'x')", new { id });
            await legacy.CommitAsync();
        }

        using var response = await Client.PostAsync($"/orders/{id}/pay", null);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("nothing was changed", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, await CountAsync("orders", "orders", $"id = {id} AND paid_at IS NOT NULL"));
        Assert.Equal(1, await CountAsync("orders", "orders", $"id = {id}"));
        Assert.Equal(1, await CountAsync("legacy", "ledger", $"order_id = {id}"));
        Assert.Empty(await LeftPreparedAsync());
    }

    [Fact]
    public async Task Paying_an_unknown_order_is_404_and_changes_nothing()
    {
        using var response = await Client.PostAsync("/orders/424242/pay", null);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("no order 424242", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, await CountAsync("legacy", "ledger"));
        Assert.Empty(await LeftPreparedAsync());
    }
}
