using BenchmarkDotNet.Attributes;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Switchboard.EntityFrameworkCore;

namespace Switchboard.Benchmarks;

/// <summary>
/// The same EF Core query through a context bound by Switchboard (its engine's NpgsqlDataSource) and through a context
/// configured on Npgsql directly (UseNpgsql(connectionString)), both pooled. Needs a PostgreSQL server:
/// SWITCHBOARD_BENCH_PG is an Npgsql connection string (default: the development server on 127.0.0.1:55501); the
/// benchmark creates its own database, switchboard_bench, with a 10-row table.
///   dotnet run -c Release --project bench/Switchboard.Benchmarks -- --filter '*EfCore*'
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 20)]
[MedianColumn]
public class EfCoreBenchmarks
{
    private ServiceProvider _services = null!;
    private PooledDbContextFactory<BenchDb> _plain = null!;
    private ISwitchboardDbContextFactory<BenchDb> _switchboard = null!;

    [GlobalSetup]
    public void Setup()
    {
        var builder = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable("SWITCHBOARD_BENCH_PG")
            ?? "Host=127.0.0.1;Port=55501;Username=app;Password=pg-S3cret-pass");
        builder.Database = "switchboard_bench";
        CreateDatabase(builder);
        var connectionString = builder.ConnectionString;

        _plain = new PooledDbContextFactory<BenchDb>(new DbContextOptionsBuilder<BenchDb>().UseNpgsql(connectionString).Options);
        _services = new ServiceCollection()
            .AddSwitchboard(catalog => catalog.AddDatabase("bench", "postgresql", connectionString)).Services
            .AddSwitchboardDbContext<BenchDb>("bench")
            .BuildServiceProvider();
        _switchboard = _services.GetRequiredService<ISwitchboardDbContextFactory<BenchDb>>();

        using var db = _plain.CreateDbContext();
        db.Database.ExecuteSqlRaw("CREATE TABLE IF NOT EXISTS bench_items (\"Id\" integer PRIMARY KEY, \"Name\" text NOT NULL)");
        db.Database.ExecuteSqlRaw("INSERT INTO bench_items SELECT g, 'item ' || g FROM generate_series(1, 10) g ON CONFLICT DO NOTHING");
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Baseline = true, Description = "EF Core, UseNpgsql(connection string)")]
    public async Task<int> PlainNpgsql()
    {
        await using var db = _plain.CreateDbContext();
        return (await db.Items.Where(i => i.Id <= 10).ToListAsync()).Count;
    }

    [Benchmark(Description = "EF Core, Switchboard-bound (read-write)")]
    public async Task<int> Switchboard()
    {
        await using var db = _switchboard.CreateDbContext();
        return (await db.Items.Where(i => i.Id <= 10).ToListAsync()).Count;
    }

    [Benchmark(Description = "EF Core, Switchboard-bound (read-only, no tracking)")]
    public async Task<int> SwitchboardReadOnly()
    {
        await using var db = _switchboard.CreateDbContext(SessionIntent.ReadOnly);
        return (await db.Items.Where(i => i.Id <= 10).ToListAsync()).Count;
    }

    private static void CreateDatabase(NpgsqlConnectionStringBuilder target)
    {
        var admin = new NpgsqlConnectionStringBuilder(target.ConnectionString) { Database = "postgres", Pooling = false };
        using var connection = new NpgsqlConnection(admin.ConnectionString);
        connection.Open();
        using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @d", connection);
        exists.Parameters.AddWithValue("d", target.Database!);
        if (exists.ExecuteScalar() is null)
        {
            using var create = new NpgsqlCommand($"CREATE DATABASE \"{target.Database}\"", connection);
            create.ExecuteNonQuery();
        }
    }
}

public sealed class BenchItem
{
    public int Id { get; set; }

    public required string Name { get; set; }
}

public sealed class BenchDb(DbContextOptions<BenchDb> options) : DbContext(options)
{
    public DbSet<BenchItem> Items => Set<BenchItem>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.Entity<BenchItem>().ToTable("bench_items");
}
