namespace Switchboard.Benchmarks;

/// <summary>
/// Where server benchmarks connect. Set SWITCHBOARD_BENCH_PG / SWITCHBOARD_BENCH_MY to ADO.NET connection strings;
/// the defaults match a server started by tests/rig/db-servers.sh on ports 55501 / 55502.
/// </summary>
internal static class BenchmarkServers
{
    public static string PostgreSql =>
        Environment.GetEnvironmentVariable("SWITCHBOARD_BENCH_PG")
        ?? "Host=127.0.0.1;Port=55501;Username=app;Password=pg-S3cret-pass;Database=postgres";

    public static string MySql =>
        Environment.GetEnvironmentVariable("SWITCHBOARD_BENCH_MY")
        ?? "Server=127.0.0.1;Port=55502;User ID=app;Password=my-S3cret-pass;Database=mysql";
}
