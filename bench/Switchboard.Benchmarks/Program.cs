using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Switchboard.Benchmarks -- --filter '*Session*'
// Server benchmarks read SWITCHBOARD_BENCH_PG / SWITCHBOARD_BENCH_MY (ADO.NET connection strings); see docs/benchmarks.md.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
