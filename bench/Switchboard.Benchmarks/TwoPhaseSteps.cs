namespace Switchboard.Benchmarks;

/// <summary>
/// Where a distributed commit's time goes, step by step, at one client: Switchboard against <c>HandWrittenBarrier</c> (with
/// its one-column record, with Switchboard's record, and with none), one transaction of each in a random order; per step the median
/// and quartiles, and the thread-pool work items it queued (on average). Medians, because on a shared virtual machine rare
/// pauses of milliseconds decide any average. Run:
/// <c>dotnet run -c Release --project bench/Switchboard.Benchmarks -- two-phase-steps [TRANSACTIONS]</c> (per variant,
/// counted after the warm-up).
/// </summary>
public static class TwoPhaseSteps
{
    private static readonly string[] SwitchboardSteps = ["begin", "UPDATEs", "commit", "dispose"];
    private static readonly string[] BarrierSteps = ["open, begin", "UPDATEs", "record, prepare", "commit prepared", "dispose"];

    public static async Task RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 6000;
        var bench = new TwoPhaseBenchmarks();
        bench.Setup();
        try
        {
            (string Name, string[] Steps, Func<int, Task<(double[] Micros, double[] WorkItems)>> Run)[] variants =
            [
                ("Switchboard", SwitchboardSteps, bench.SwitchboardStepsAsync),
                ("HandWrittenBarrier", BarrierSteps, id => bench.BarrierStepsAsync(id, BarrierRecord.OneColumn)),
                ("HandWrittenBarrier, Switchboard's record", BarrierSteps, id => bench.BarrierStepsAsync(id, BarrierRecord.Switchboard)),
                ("HandWrittenBarrier, no record", BarrierSteps, id => bench.BarrierStepsAsync(id, BarrierRecord.None)),
            ];
            var samples = variants.ToDictionary(v => v.Name, _ => new List<(double[] Micros, double[] WorkItems)>());

            // The first 20 s warm up (tiered compilation settles after about 10 s here) and are not counted.
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var warmUp = TimeSpan.FromSeconds(20);
            for (var i = 0; samples.Values.First().Count < count; i++)
            {
                var counted = System.Diagnostics.Stopwatch.GetElapsedTime(started) >= warmUp;
                foreach (var (name, _, run) in variants.OrderBy(_ => Random.Shared.Next()))
                {
                    var steps = await run(1 + i % 4);
                    if (counted)
                    {
                        samples[name].Add(steps);
                    }
                }
            }

            foreach (var (name, steps, _) in variants)
            {
                Print(name, steps, samples[name]);
            }
        }
        finally
        {
            bench.Cleanup();
        }
    }

    private static void Print(string name, string[] steps, List<(double[] Micros, double[] WorkItems)> samples)
    {
        var total = samples.Select(s => s.Micros.Sum()).Order().ToList();
        Console.WriteLine($"{name} ({samples.Count} transactions; median of the whole {total[total.Count / 2]:0} us)");
        for (var step = 0; step < steps.Length; step++)
        {
            var sorted = samples.Select(s => s.Micros[step]).Order().ToList();
            var workItems = samples.Average(s => s.WorkItems[step]);
            Console.WriteLine($"  {steps[step],-16} median {sorted[sorted.Count / 2],7:0.0} us   quartiles {sorted[sorted.Count / 4],7:0.0} – {sorted[sorted.Count * 3 / 4],7:0.0} us   "
                + $"thread-pool work items {workItems,4:0.00}");
        }
    }
}
