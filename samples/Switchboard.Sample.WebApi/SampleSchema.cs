using Microsoft.EntityFrameworkCore;
using Switchboard.EntityFrameworkCore;

namespace Switchboard.Sample.WebApi;

/// <summary>Creates the sample's tables at start-up (and a few products), on SQLite files or on servers alike.</summary>
internal sealed class SampleSchema(SwitchboardCatalog databases, ISwitchboardDbContextFactory<OrdersDb> orders) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // EF Core creates the orders table in each provider's own types.
        await using (var db = orders.CreateDbContext())
        {
            await db.Database.EnsureCreatedAsync(cancellationToken);
        }

        // A data/orders.db from before payments existed has no paid_at column: add it.
        await using (var session = databases.OpenSession("orders"))
        {
            try
            {
                await session.ExecuteAsync("SELECT paid_at FROM orders WHERE 1 = 0", cancellationToken: cancellationToken);
            }
            catch (DatabaseCommandException e) when (e.Kind is DatabaseErrorKind.UndefinedObject or DatabaseErrorKind.SyntaxError or DatabaseErrorKind.Other)
            {
                await session.RollbackAsync(cancellationToken);
                await session.ExecuteAsync("ALTER TABLE orders ADD COLUMN paid_at TIMESTAMP NULL", cancellationToken: cancellationToken);
                await session.CommitAsync(cancellationToken);
            }
        }

        // Plain SQL that SQLite, PostgreSQL and MariaDB all accept.
        await using (var legacy = databases.OpenSession("legacy"))
        {
            await legacy.ExecuteAsync(
                "CREATE TABLE IF NOT EXISTS products (sku VARCHAR(32) PRIMARY KEY, name VARCHAR(200) NOT NULL, price_cents BIGINT NOT NULL)",
                cancellationToken: cancellationToken);
            // One ledger line per order, booked by POST /orders/{id}/pay together with the order's payment.
            await legacy.ExecuteAsync(
                "CREATE TABLE IF NOT EXISTS ledger (id VARCHAR(36) PRIMARY KEY, order_id BIGINT NOT NULL UNIQUE, amount_cents BIGINT NOT NULL, booked_at VARCHAR(40) NOT NULL)",
                cancellationToken: cancellationToken);
            if (await legacy.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM products", cancellationToken: cancellationToken) == 0)
            {
                await legacy.ExecuteAsync("INSERT INTO products (sku, name, price_cents) VALUES (@Sku, @Name, @PriceCents)",
                    new[]
                    {
                        new Product { Sku = "KB-01", Name = "Keyboard", PriceCents = 4990 },
                        new Product { Sku = "MS-02", Name = "Mouse", PriceCents = 1950 },
                        new Product { Sku = "MN-27", Name = "Monitor 27\"", PriceCents = 22900 },
                    },
                    cancellationToken);
            }

            await legacy.CommitAsync(cancellationToken);
        }

        await using (var audit = databases.OpenSession("audit"))
        {
            await audit.ExecuteAsync(
                "CREATE TABLE IF NOT EXISTS audit_log (id VARCHAR(36) PRIMARY KEY, at VARCHAR(40) NOT NULL, action VARCHAR(400) NOT NULL)",
                cancellationToken: cancellationToken);
            await audit.CommitAsync(cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
