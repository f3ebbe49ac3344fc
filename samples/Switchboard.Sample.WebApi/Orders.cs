using Microsoft.EntityFrameworkCore;

namespace Switchboard.Sample.WebApi;

/// <summary>An order, stored in the "orders" database.</summary>
public sealed class Order
{
    public long Id { get; set; }

    public required string Customer { get; set; }

    public required string Sku { get; set; }

    public int Quantity { get; set; }

    public decimal Total { get; set; }

    public DateTime CreatedAt { get; set; }

    /// <summary>Set by <c>POST /orders/{id}/pay</c>, in the same distributed transaction as its ledger line in "legacy".</summary>
    public DateTime? PaidAt { get; set; }
}

/// <summary>The EF Core model of the "orders" database; the same table is written with Dapper through sessions.</summary>
public sealed class OrdersDb(DbContextOptions<OrdersDb> options) : DbContext(options)
{
    public DbSet<Order> Orders => Set<Order>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Order>(order =>
        {
            order.ToTable("orders");
            order.HasKey(o => o.Id);
            order.Property(o => o.Id).HasColumnName("id");
            order.Property(o => o.Customer).HasColumnName("customer").HasMaxLength(100);
            order.Property(o => o.Sku).HasColumnName("sku").HasMaxLength(32);
            order.Property(o => o.Quantity).HasColumnName("quantity");
            order.Property(o => o.Total).HasColumnName("total").HasPrecision(12, 2);
            order.Property(o => o.CreatedAt).HasColumnName("created_at");
            order.Property(o => o.PaidAt).HasColumnName("paid_at");
        });
    }
}

/// <summary>
/// A product of the legacy catalogue (read and written with Dapper). Prices are whole cents: SQLite types each value on its
/// own (229.00 comes back as an integer, 49.9 as a real), and integers read back the same on every database.
/// </summary>
public sealed record Product
{
    public required string Sku { get; init; }

    public required string Name { get; init; }

    public long PriceCents { get; init; }
}

/// <summary>One line of the audit log.</summary>
public sealed record AuditEntry(string Id, string At, string Action);

public sealed record NewOrder(string Customer, string Sku, int Quantity);
