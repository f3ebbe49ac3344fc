using Dapper;

namespace Switchboard.AspNetCore.Tests.Contracts;

public sealed record Customer(long Id, string Name);

public sealed class Invoice
{
    public long Id { get; set; }

    public long Amount { get; set; }

    public Customer? Customer { get; set; }
}

/// <summary>
/// Dapper over a session, as docs/aspnetcore.md shows it: the session's connection and transaction passed to Dapper's own
/// extension methods (batches, multi-mapping, several result sets, unbuffered reads), and the session's helpers.
/// </summary>
public abstract class DapperContractTests
{
    protected abstract Task<string> NewDatabaseUrlAsync();

    private async Task<SwitchboardCatalog> CatalogAsync()
    {
        var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("crm", await NewDatabaseUrlAsync()).Build();
        await using var setup = catalog.OpenSession("crm");
        await setup.ExecuteAsync("CREATE TABLE customers (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL)");
        await setup.ExecuteAsync("CREATE TABLE invoices (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES customers (id), amount BIGINT NOT NULL)");
        await setup.CommitAsync();
        return catalog;
    }

    private static async Task<long> CountFromOutsideAsync(SwitchboardCatalog catalog, string table)
    {
        await using var connection = await catalog.GetEngine("crm").OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {table}");
    }

    [Fact]
    public async Task Dapper_runs_on_the_session_connection_inside_its_transaction()
    {
        await using var catalog = await CatalogAsync();
        await using var session = catalog.OpenSession("crm");
        var connection = await session.GetConnectionAsync();
        var transaction = await session.GetTransactionAsync();

        // A batch: Dapper runs the statement once per element.
        var inserted = await connection.ExecuteAsync("INSERT INTO customers (id, name) VALUES (@Id, @Name)",
            new[] { new Customer(1, "ada"), new Customer(2, "bob"), new Customer(3, "cy") }, transaction);
        Assert.Equal(3, inserted);
        await connection.ExecuteAsync("INSERT INTO invoices (id, customer_id, amount) VALUES (@id, @customer, @amount)",
            new[] { new { id = 10L, customer = 1L, amount = 500L }, new { id = 11L, customer = 1L, amount = 250L }, new { id = 12L, customer = 2L, amount = 99L } },
            transaction);

        // Inside the transaction the rows are there; outside, not yet.
        Assert.Equal(3, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM customers", transaction: transaction));
        Assert.Equal(0, await CountFromOutsideAsync(catalog, "customers"));

        // Multi-mapping: one row per invoice, split into the invoice and its customer.
        var invoices = (await connection.QueryAsync<Invoice, Customer, Invoice>(
            "SELECT i.id, i.amount, c.id, c.name FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE i.amount > @min ORDER BY i.id",
            (invoice, customer) =>
            {
                invoice.Customer = customer;
                return invoice;
            },
            new { min = 100 }, transaction, splitOn: "id")).ToList();
        Assert.Equal([10L, 11L], invoices.Select(i => i.Id));
        Assert.All(invoices, i => Assert.Equal("ada", i.Customer!.Name));

        // Several result sets in one round trip.
        await using (var grid = await connection.QueryMultipleAsync(
            "SELECT COUNT(*) FROM customers; SELECT name FROM customers ORDER BY id", transaction: transaction))
        {
            Assert.Equal(3, await grid.ReadSingleAsync<long>());
            Assert.Equal(["ada", "bob", "cy"], await grid.ReadAsync<string>());
        }

        // Unbuffered: rows stream as they are read.
        var names = new List<string>();
        await foreach (var name in connection.QueryUnbufferedAsync<string>("SELECT name FROM customers ORDER BY id DESC", transaction: transaction))
        {
            names.Add(name);
        }

        Assert.Equal(["cy", "bob", "ada"], names);
        await session.CommitAsync();
        Assert.Equal(3, await CountFromOutsideAsync(catalog, "customers"));
        Assert.Equal(3, await CountFromOutsideAsync(catalog, "invoices"));
    }

    [Fact]
    public async Task Dapper_work_rolls_back_with_the_session()
    {
        await using var catalog = await CatalogAsync();
        await using (var session = catalog.OpenSession("crm"))
        {
            await session.Connection.ExecuteAsync("INSERT INTO customers (id, name) VALUES (1, 'ada')", transaction: session.Transaction);
            await session.RollbackAsync();
            await session.Connection.ExecuteAsync("INSERT INTO customers (id, name) VALUES (2, 'bob')", transaction: session.Transaction);

            // Disposed without a commit: rolled back too.
        }

        Assert.Equal(0, await CountFromOutsideAsync(catalog, "customers"));
    }

    [Fact]
    public async Task The_session_helpers_map_rows_and_name_the_database_on_error()
    {
        await using var catalog = await CatalogAsync();
        await using var session = catalog.OpenSession("crm");
        await session.ExecuteAsync("INSERT INTO customers (id, name) VALUES (@Id, @Name)", new Customer(7, "dee"));
        Assert.Equal(new Customer(7, "dee"), await session.QuerySingleAsync<Customer>("SELECT id, name FROM customers WHERE id = @id", new { id = 7 }));
        var error = await Assert.ThrowsAsync<DatabaseCommandException>(() =>
            session.ExecuteAsync("INSERT INTO customers (id, name) VALUES (@Id, @Name)", new Customer(7, "again")));
        Assert.Equal(DatabaseErrorKind.UniqueViolation, error.Kind);
        Assert.Equal("crm", error.DatabaseName);
    }
}
