using System.Data.Common;
using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using MySql.Data.MySqlClient;
using Npgsql;

namespace Switchboard.Benchmarks;

/// <summary>
/// One unit of work — check out a connection, begin, <c>SELECT 1</c>, commit, return it — through a Switchboard session
/// versus the same steps on the raw driver's pool. Pool sizes are equal on both sides. The "Helper" rows use the
/// session's Dapper-backed ExecuteScalar, whose cost is Dapper's, not Switchboard's.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 5, iterationCount: 20)]
public abstract class SessionBenchmarks
{
    private SwitchboardCatalog _catalog = null!;
    private DbDataSource _raw = null!;

    protected abstract string ProviderName { get; }

    protected abstract string ConnectionString { get; }

    /// <summary>The raw driver's pooled data source, over exactly the connection string Switchboard built.</summary>
    protected abstract DbDataSource CreateRawSource(string connectionString);

    [GlobalSetup]
    public void Setup()
    {
        _catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("db", ProviderName, ConnectionString, o => o.Pool.MaxSize = 10)
            .Build();
        _raw = CreateRawSource(_catalog.GetDefinition("db").Connection.ConnectionString);
        using var warm = _catalog.OpenSession("db");
        warm.ExecuteScalar<int>("SELECT 1");
        warm.Commit();
        RawSync();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _catalog.Dispose();
        _raw.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Raw driver (sync)")]
    public object? RawSync()
    {
        using var connection = _raw.OpenConnection();
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT 1";
        var result = command.ExecuteScalar();
        transaction.Commit();
        return result;
    }

    [Benchmark(Description = "Switchboard session (sync)")]
    public object? SessionSync()
    {
        using var session = _catalog.OpenSession("db");
        using var command = session.Connection.CreateCommand();
        command.Transaction = session.Transaction;
        command.CommandText = "SELECT 1";
        var result = command.ExecuteScalar();
        session.Commit();
        return result;
    }

    [Benchmark(Description = "Raw driver (async)")]
    public async Task<object?> RawAsync()
    {
        await using var connection = await _raw.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT 1";
        var result = await command.ExecuteScalarAsync();
        await transaction.CommitAsync();
        return result;
    }

    [Benchmark(Description = "Switchboard session (async)")]
    public async Task<object?> SessionAsync()
    {
        await using var session = _catalog.OpenSession("db");
        var connection = await session.GetConnectionAsync();
        await using var command = connection.CreateCommand();
        command.Transaction = await session.GetTransactionAsync();
        command.CommandText = "SELECT 1";
        var result = await command.ExecuteScalarAsync();
        await session.CommitAsync();
        return result;
    }

    [Benchmark(Description = "Switchboard helper, Dapper (async)")]
    public async Task<int> HelperAsync()
    {
        await using var session = _catalog.OpenSession("db");
        var result = await session.ExecuteScalarAsync<int>("SELECT 1");
        await session.CommitAsync();
        return result;
    }
}

public class PostgreSqlSessionBenchmarks : SessionBenchmarks
{
    protected override string ProviderName => "postgresql";

    protected override string ConnectionString => BenchmarkServers.PostgreSql;

    protected override DbDataSource CreateRawSource(string connectionString) => NpgsqlDataSource.Create(connectionString);
}

public class SqliteSessionBenchmarks : SessionBenchmarks
{
    protected override string ProviderName => "sqlite";

    protected override string ConnectionString => "Data Source=" + Path.Combine(Path.GetTempPath(), "switchboard-bench.db");

    protected override DbDataSource CreateRawSource(string connectionString) => SqliteFactory.Instance.CreateDataSource(connectionString);
}

public class MySqlSessionBenchmarks : SessionBenchmarks
{
    protected override string ProviderName => "mariadb";

    protected override string ConnectionString => BenchmarkServers.MySql;

    protected override DbDataSource CreateRawSource(string connectionString) => MySqlClientFactory.Instance.CreateDataSource(connectionString);
}
