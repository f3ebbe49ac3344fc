using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Switchboard.Benchmarks -- --filter '*Session*'
// Server benchmarks read SWITCHBOARD_BENCH_PG / SWITCHBOARD_BENCH_MY (ADO.NET connection strings); see docs/benchmarks.md.
if (args is ["two-phase-interleaved", .. var rest])
{
    await Switchboard.Benchmarks.TwoPhaseInterleaved.RunAsync(rest); // see docs/benchmarks.md, "Two-phase commit"
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
