using BenchmarkDotNet.Running;
using Switchboard.Benchmarks;

// dotnet run -c Release --project bench/Switchboard.Benchmarks -- --filter '*Session*'
// dotnet run -c Release --project bench/Switchboard.Benchmarks -- failover [runs]   (measured failover timings; starts servers)
// Server benchmarks read SWITCHBOARD_BENCH_PG / SWITCHBOARD_BENCH_MY (ADO.NET connection strings); see docs/benchmarks.md.
// dotnet run -c Release --project bench/Switchboard.Benchmarks -- tenant-latency   (per-checkout percentiles, memory per tenant)
if (args is ["tenant-latency", ..])
{
    await TenantLatencyReport.RunAsync();
    return 0;
}

if (args is ["two-phase-interleaved", .. var rest])
{
    await Switchboard.Benchmarks.TwoPhaseInterleaved.RunAsync(rest); // see docs/benchmarks.md, "Two-phase commit"
    return 0;
}

if (args is ["two-phase-steps", .. var stepArgs])
{
    await TwoPhaseSteps.RunAsync(stepArgs); // per-step medians, see docs/benchmarks.md
    return 0;
}

if (args.Length > 0 && args[0] == "failover")
{
    return await FailoverHarness.RunAsync(args);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
