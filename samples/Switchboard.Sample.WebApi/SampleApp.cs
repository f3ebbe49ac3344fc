using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Switchboard.EntityFrameworkCore;
using Switchboard.Extensions.DependencyInjection;

namespace Switchboard.Sample.WebApi;

/// <summary>
/// The sample: "orders" (PostgreSQL, or SQLite by default) through EF Core and Dapper, the "legacy" catalogue (MariaDB,
/// or SQLite) through Dapper, and an "audit" log (SQLite). Built here rather than in Program.cs so tests can host it.
/// </summary>
public static partial class SampleApp
{
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);

        // The coordinator log of distributed transactions (POST /orders/{id}/pay) lives beside the SQLite files: durable
        // storage of the app's own, not whatever directory the process happens to start in.
        var transactionLog = builder.Configuration["Transactions:LogFolder"] ?? Path.Combine("data", "transactions");
        builder.Services.AddSwitchboard(builder.Configuration.GetSection("Databases"))
            .Configure((databases, _) => databases.ConfigureTransactions(t => t.LogFolder = transactionLog))
            .AddHealthChecks();
        builder.Services.AddSwitchboardDbContext<OrdersDb>("orders");
        builder.Services.AddHostedService<SampleSchema>();

        var app = builder.Build();
        app.MapHealthChecks("/health", new() { ResponseWriter = SwitchboardHealthResponse.WriteAsync });
        MapOrders(app);
        MapCatalogue(app);
        MapAudit(app);
        return app;
    }

    private static void MapOrders(WebApplication app)
    {
        // Reads through a read-only EF Core context: untracked, SaveChanges refused, and on a replica when "orders" has replicas.
        app.MapGet("/orders", async (ISwitchboardDbContextFactory<OrdersDb> factory, CancellationToken cancel) =>
        {
            await using var db = factory.CreateDbContext(SessionIntent.ReadOnly);
            return await db.Orders.OrderBy(o => o.Id).ToListAsync(cancel);
        });

        app.MapGet("/orders/{id:long}", async (long id, ISwitchboardDbContextFactory<OrdersDb> factory, CancellationToken cancel) =>
        {
            await using var db = factory.CreateDbContext(SessionIntent.ReadOnly);
            return await db.Orders.FirstOrDefaultAsync(o => o.Id == id, cancel) is { } order ? Results.Ok(order) : Results.NotFound();
        });

        // One request, three databases, one unit of work: the order and its audit line commit together when the handler
        // succeeds and roll back together when it throws or answers 5xx (each database commits in turn: not atomic).
        app.MapPost("/orders", async (
            NewOrder request,
            [FromKeyedServices("orders")] DatabaseSession orders,
            [FromKeyedServices("audit")] DatabaseSession audit,
            DatabaseSessionScope sessions,
            CancellationToken cancel) =>
        {
            if (request.Quantity <= 0 || string.IsNullOrWhiteSpace(request.Customer))
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["order"] = ["a customer and a positive quantity are required"] });
            }

            var legacy = sessions.Get("legacy", SessionIntent.ReadOnly);
            var product = await legacy.QueryFirstOrDefaultAsync<Product>(
                "SELECT sku, name, price_cents AS PriceCents FROM products WHERE sku = @sku", new { sku = request.Sku }, cancel);
            if (product is null)
            {
                return Results.NotFound(new { error = $"no product '{request.Sku}'" });
            }

            var total = product.PriceCents * request.Quantity / 100m;
            var id = await orders.ExecuteScalarAsync<long>(
                "INSERT INTO orders (customer, sku, quantity, total, created_at) VALUES (@customer, @sku, @quantity, @total, @at) RETURNING id",
                new { customer = request.Customer, sku = product.Sku, quantity = request.Quantity, total, at = DateTime.UtcNow }, cancel);
            await audit.ExecuteAsync("INSERT INTO audit_log (id, at, action) VALUES (@id, @at, @action)",
                new
                {
                    id = Guid.NewGuid().ToString(),
                    at = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                    action = $"order {id} placed by {request.Customer}",
                }, cancel);
            return Results.Created($"/orders/{id}", new { id, total });
        }).WithUnitOfWork();

        app.MapPost("/orders/{id:long}/pay", PayAsync);
    }

    /// <summary>
    /// Pays an order: marks it paid in "orders" and books a ledger line in "legacy", in one distributed transaction. On
    /// PostgreSQL + MariaDB that is a two-phase commit (both or neither, even across a crash). When at most one of the two
    /// cannot prepare (SQLite) it joins as the last resource, still all or nothing. When neither can (the all-SQLite
    /// default) there is no atomic protocol: the sample then commits best-effort, one database after the other, and says
    /// so in the response ("protocol": "best-effort") rather than pretend.
    /// </summary>
    private static async Task<IResult> PayAsync(long id, SwitchboardCatalog databases, ILoggerFactory loggers, CancellationToken cancel)
    {
        string[] participants = ["orders", "legacy"];
        var protocol = participants.Count(p => !databases.GetDefinition(p).CanPrepare) <= 1
            ? DistributedTransactionOptions.Default
            : DistributedTransactionOptions.BestEffort;
        DistributedTransaction tx;
        try
        {
            tx = await databases.BeginDistributedAsync(participants, protocol, cancel);
        }
        catch (TwoPhaseCommitUnavailableException e)
        {
            // A server not set up for two-phase commit (max_prepared_transactions = 0, no XA rights): refuse, change nothing.
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Two-phase commit unavailable", detail: e.Message);
        }

        await using (tx)
        {
            var orders = tx.Session("orders");
            var paidAt = DateTime.UtcNow;
            // SQLite keeps EF Core's decimals as text, the servers as numbers: convert whatever comes back.
            var total = await orders.ExecuteScalarAsync<object?>("SELECT total FROM orders WHERE id = @id", new { id }, cancel);
            if (total is null or DBNull)
            {
                return Results.NotFound(new { error = $"no order {id}" });
            }

            if (await orders.ExecuteAsync("UPDATE orders SET paid_at = @paidAt WHERE id = @id AND paid_at IS NULL", new { id, paidAt }, cancel) == 0)
            {
                return Results.Conflict(new { error = $"order {id} is already paid" });
            }

            var amountCents = (long)Math.Round(Convert.ToDecimal(total, CultureInfo.InvariantCulture) * 100m);
            var line = Guid.NewGuid().ToString();
            try
            {
                await tx.Session("legacy").ExecuteAsync(
                    "INSERT INTO ledger (id, order_id, amount_cents, booked_at) VALUES (@line, @id, @amountCents, @at)",
                    new { line, id, amountCents, at = paidAt.ToString("O", CultureInfo.InvariantCulture) }, cancel);
            }
            catch (DatabaseCommandException e) when (e.Kind == DatabaseErrorKind.UniqueViolation)
            {
                // Disposing the transaction rolls back both databases: the order stays unpaid.
                return Results.Conflict(new { error = $"the ledger already has a line for order {id}; nothing was changed" });
            }

            try
            {
                await tx.CommitAsync(cancel);
            }
            catch (DistributedTransactionException e)
            {
                LogPaymentFailed(loggers.CreateLogger("Switchboard.Sample.Payments"), e, id, e.Outcome);
                return Results.Problem(statusCode: StatusCodes.Status500InternalServerError, title: $"Payment {e.Outcome}", detail: e.Message,
                    extensions: new Dictionary<string, object?> { ["outcome"] = e.Outcome.ToString(), ["transaction"] = e.TransactionId });
            }

            return Results.Ok(new
            {
                id,
                paidAt,
                ledgerLine = line,
                amountCents,
                protocol = protocol.Mode == DistributedTransactionMode.TwoPhaseCommit ? "two-phase-commit" : "best-effort",
                transaction = tx.Id,
                participants = tx.Results?.Select(r => new { r.Database, outcome = r.Outcome.ToString() }),
            });
        }
    }

    private static void MapCatalogue(WebApplication app)
    {
        app.MapGet("/catalogue", async (DatabaseSessionScope sessions, CancellationToken cancel) =>
            await sessions.Get("legacy", SessionIntent.ReadOnly)
                .QueryAsync<Product>("SELECT sku, name, price_cents AS PriceCents FROM products ORDER BY sku", cancellationToken: cancel));

        app.MapGet("/catalogue/{sku}", async (string sku, DatabaseSessionScope sessions, CancellationToken cancel) =>
            await sessions.Get("legacy", SessionIntent.ReadOnly).QueryFirstOrDefaultAsync<Product>(
                "SELECT sku, name, price_cents AS PriceCents FROM products WHERE sku = @sku", new { sku }, cancel) is { } product
                ? Results.Ok(product)
                : Results.NotFound());

        app.MapPut("/catalogue/{sku}", async (string sku, Product product, [FromKeyedServices("legacy")] DatabaseSession legacy,
            CancellationToken cancel) =>
        {
            var updated = await legacy.ExecuteAsync("UPDATE products SET name = @Name, price_cents = @PriceCents WHERE sku = @sku",
                new { product.Name, product.PriceCents, sku }, cancel);
            if (updated == 0)
            {
                await legacy.ExecuteAsync("INSERT INTO products (sku, name, price_cents) VALUES (@sku, @Name, @PriceCents)",
                    new { sku, product.Name, product.PriceCents }, cancel);
            }

            return Results.Ok(product with { Sku = sku });
        }).WithUnitOfWork();
    }

    private static void MapAudit(WebApplication app) =>
        app.MapGet("/audit", async ([FromKeyedServices("audit")] DatabaseSession audit, CancellationToken cancel) =>
            await audit.QueryAsync<AuditEntry>("SELECT id, at, action FROM audit_log ORDER BY at DESC LIMIT 50", cancellationToken: cancel));

    [LoggerMessage(Level = LogLevel.Error, Message = "Paying order {OrderId} did not simply commit ({Outcome})")]
    private static partial void LogPaymentFailed(ILogger logger, Exception exception, long orderId, DistributedOutcome outcome);
}
