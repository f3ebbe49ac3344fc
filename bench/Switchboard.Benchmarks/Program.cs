using BenchmarkDotNet.Running;
using Switchboard.Benchmarks;

// dotnet run -c Release --project bench/Switchboard.Benchmarks -- --filter '*Session*'
// Server benchmarks read SWITCHBOARD_BENCH_PG / SWITCHBOARD_BENCH_MY (ADO.NET connection strings); see docs/benchmarks.md.
// dotnet run -c Release --project bench/Switchboard.Benchmarks -- tenant-latency   (per-checkout percentiles, memory per tenant)
if (args is ["tenant-latency", ..])
{
    await TenantLatencyReport.RunAsync();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
