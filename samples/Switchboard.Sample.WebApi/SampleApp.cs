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
public static class SampleApp
{
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);

        builder.Services.AddSwitchboard(builder.Configuration.GetSection("Databases")).AddHealthChecks();
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
        // Reads through a read-only EF Core context: untracked, SaveChanges refused, and sent to a replica once routing exists.
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

        // TODO(distributed transactions): paying an order marks it paid in "orders" and books it in the "legacy" ledger,
        // atomically across the two databases. That needs the two-phase commit (databases.BeginDistributedAsync("orders",
        // "legacy")), which is being built separately; until it lands this endpoint says so instead of faking atomicity
        // with two independent commits.
        app.MapPost("/orders/{id:long}/pay", (long id) => Results.Problem(
            statusCode: StatusCodes.Status501NotImplemented,
            title: "Not available yet",
            detail: $"Paying order {id} writes to 'orders' and 'legacy' in one atomic transaction, which needs distributed transactions (two-phase commit); not implemented yet."));
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
}
