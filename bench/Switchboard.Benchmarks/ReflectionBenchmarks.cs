using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Microsoft.Data.Sqlite;
using MySql.Data.MySqlClient;
using Npgsql;
using Switchboard.Reflection;

namespace Switchboard.Benchmarks;

/// <summary>
/// Reflects a generated 1,000-table database (10 columns, 2 indexes and 1 foreign key per table) on PostgreSQL,
/// MariaDB and SQLite, and one table of it. The servers come from SWITCHBOARD_BENCH_PG / SWITCHBOARD_BENCH_MY (ADO.NET
/// connection strings of a user that may create databases); the generated databases are kept between runs
/// (switchboard_bench_reflect). Runs in process so the query-count column can read what the reflection reported.
///   dotnet run -c Release --project bench/Switchboard.Benchmarks -- --filter '*ReflectionBenchmarks*'
/// </summary>
[Config(typeof(ReflectionConfig))]
public class ReflectionBenchmarks
{
    public const int TableCount = 1000;

    private const string DatabaseName = "switchboard_bench_reflect";

    internal static readonly ConcurrentDictionary<string, int> QueryCounts = new();

    private SwitchboardCatalog? _catalog;
    private DatabaseEngine? _engine;

    [Params("postgresql", "mysql", "sqlite")]
    public string Dialect { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var (provider, connectionString) = Dialect switch
        {
            "postgresql" => ("postgresql", PreparePostgreSql()),
            "mysql" => ("mysql", PrepareMySql()),
            _ => ("sqlite", PrepareSqlite()),
        };
        _catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("bench", provider, connectionString, o => o.CommandTimeout = TimeSpan.FromMinutes(5)).Build();
        _engine = _catalog.GetEngine("bench");
        var all = _engine.Reflect();
        if (all.AllTables.Count() != TableCount)
        {
            throw new InvalidOperationException($"expected {TableCount} tables, reflected {all.AllTables.Count()}");
        }

        QueryCounts[Dialect + "/" + nameof(ReflectWholeDatabase)] = all.Statistics!.QueryCount;
        QueryCounts[Dialect + "/" + nameof(ReflectOneTable)] = _engine.Reflect(new ReflectionOptions { Tables = ["t0500"] }).Statistics!.QueryCount;
    }

    [GlobalCleanup]
    public void Cleanup() => _catalog?.Dispose();

    [Benchmark]
    public async Task<int> ReflectWholeDatabase() => (await _engine!.ReflectAsync()).AllTables.Count();

    [Benchmark]
    public async Task<int> ReflectOneTable() => (await _engine!.ReflectAsync(new ReflectionOptions { Tables = ["t0500"] })).AllTables.Count();

    private static string Environment(string name) => System.Environment.GetEnvironmentVariable(name)
        ?? throw new InvalidOperationException($"set {name} to an ADO.NET connection string (see docs/benchmarks.md)");

    private static string PreparePostgreSql()
    {
        var admin = new NpgsqlConnectionStringBuilder(Environment("SWITCHBOARD_BENCH_PG")) { Pooling = false };
        using (var connection = new NpgsqlConnection(admin.ConnectionString))
        {
            connection.Open();
            if (Scalar(connection, $"SELECT count(*) FROM pg_database WHERE datname = '{DatabaseName}'") == 0)
            {
                Execute(connection, $"CREATE DATABASE {DatabaseName}");
            }
        }

        var target = new NpgsqlConnectionStringBuilder(admin.ConnectionString) { Database = DatabaseName, Pooling = true };
        using (var connection = new NpgsqlConnection(target.ConnectionString))
        {
            connection.Open();
            if (Scalar(connection, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") != TableCount)
            {
                Execute(connection, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
                Execute(connection, Generate(i =>
                    $"CREATE TABLE {T(i)} (id integer PRIMARY KEY, parent_id integer REFERENCES {T(Math.Max(0, i - 1))} (id), name varchar(50) NOT NULL, " +
                    "amount numeric(10,2) DEFAULT 0, created_at timestamp DEFAULT now(), active boolean, note text, qty integer, code char(8), ratio double precision); " +
                    $"CREATE INDEX {T(i)}_parent ON {T(i)} (parent_id); CREATE INDEX {T(i)}_name ON {T(i)} (name, created_at);"));
            }
        }

        return target.ConnectionString;
    }

    private static string PrepareMySql()
    {
        var admin = new MySqlConnectionStringBuilder(Environment("SWITCHBOARD_BENCH_MY")) { Pooling = false, CharacterSet = "utf8mb4" };
        using (var connection = new MySqlConnection(admin.ConnectionString))
        {
            connection.Open();
            Execute(connection, "SET character_set_results = utf8mb4");
            Execute(connection, $"CREATE DATABASE IF NOT EXISTS {DatabaseName} CHARACTER SET utf8mb4");
            connection.ChangeDatabase(DatabaseName);
            if (Scalar(connection, $"SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{DatabaseName}'") != TableCount)
            {
                Execute(connection, $"DROP DATABASE {DatabaseName}; CREATE DATABASE {DatabaseName} CHARACTER SET utf8mb4; USE {DatabaseName}");
                for (var batch = 0; batch < TableCount; batch += 100)
                {
                    Execute(connection, Generate(i =>
                        $"CREATE TABLE {T(i)} (id int PRIMARY KEY, parent_id int, name varchar(50) NOT NULL, amount decimal(10,2) DEFAULT 0, " +
                        "created_at timestamp NULL DEFAULT current_timestamp, active boolean, note text, qty int, code char(8), ratio double, " +
                        $"INDEX {T(i)}_parent (parent_id), INDEX {T(i)}_name (name, created_at), FOREIGN KEY (parent_id) REFERENCES {T(Math.Max(0, i - 1))} (id));",
                        batch, Math.Min(TableCount, batch + 100)));
                }
            }
        }

        return new MySqlConnectionStringBuilder(admin.ConnectionString) { Database = DatabaseName, Pooling = true }.ConnectionString;
    }

    private static string PrepareSqlite()
    {
        var path = Path.Combine(Path.GetTempPath(), DatabaseName + ".db");
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=false"))
        {
            connection.Open();
            if (Scalar(connection, "SELECT count(*) FROM sqlite_master WHERE type = 'table'") != TableCount)
            {
                connection.Close();
                SqliteConnection.ClearAllPools();
                File.Delete(path);
                connection.Open();
                Execute(connection, "BEGIN;" + Generate(i =>
                    $"CREATE TABLE {T(i)} (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES {T(Math.Max(0, i - 1))} (id), name VARCHAR(50) NOT NULL, " +
                    "amount DECIMAL(10,2) DEFAULT 0, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, active BOOLEAN, note TEXT, qty INTEGER, code CHAR(8), ratio DOUBLE); " +
                    $"CREATE INDEX {T(i)}_parent ON {T(i)} (parent_id); CREATE INDEX {T(i)}_name ON {T(i)} (name, created_at);") + "COMMIT;");
            }
        }

        return $"Data Source={path}";
    }

    private static string T(int i) => "t" + i.ToString("0000", CultureInfo.InvariantCulture);

    private static string Generate(Func<int, string> table, int from = 0, int to = TableCount)
    {
        var sql = new StringBuilder();
        for (var i = from; i < to; i++)
        {
            sql.Append(table(i)).Append('\n');
        }

        return sql.ToString();
    }

    private static void Execute(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.CommandTimeout = 600;
        command.ExecuteNonQuery();
    }

    private static long Scalar(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>Each iteration is one reflection (long operations: no pilot stage), in process for the query-count column.</summary>
    private sealed class ReflectionConfig : ManualConfig
    {
        public ReflectionConfig()
        {
            AddJob(Job.Default
                .WithStrategy(RunStrategy.Monitoring).WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(10)
                .WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance));
            AddColumn(StatisticColumn.Median, StatisticColumn.Min, StatisticColumn.Max, new QueryCountColumn());
        }
    }

    private sealed class QueryCountColumn : IColumn
    {
        public string Id => "Queries";

        public string ColumnName => "Queries";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => 0;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => "Queries one reflection sends (the same for 1 table or 1,000)";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
            QueryCounts.TryGetValue(benchmarkCase.Parameters["Dialect"] + "/" + benchmarkCase.Descriptor.WorkloadMethod.Name, out var count)
                ? count.ToString(CultureInfo.InvariantCulture) : "?";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public bool IsAvailable(Summary summary) => true;
    }
}
