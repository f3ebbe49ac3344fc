namespace Switchboard.Benchmarks;

/// <summary>
/// Where a distributed commit's time goes, step by step, at one client: Switchboard against <c>HandWrittenBarrier</c> (with
/// its one-column record, and with Switchboard's record), one transaction of each in a random order, medians and quartiles
/// per step, and the thread-pool work items each step queued (on average). Medians, because on a shared virtual machine rare pauses of milliseconds decide any average. Run:
/// <c>dotnet run -c Release --project bench/Switchboard.Benchmarks -- two-phase-steps [TRANSACTIONS]</c> (per variant, counted after the warm-up).
/// </summary>
public static class TwoPhaseSteps
{
    private static readonly int[] Variants = [0, 1, 2];

    public static async Task RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 6000;
        var bench = new TwoPhaseBenchmarks();
        bench.Setup();
        try
        {
            var samples = Variants.Select(_ => new List<(double[] Micros, double[] WorkItems)>()).ToArray();
            // The first 20 s warm up (tiered compilation settles after about 10 s here) and are not counted.
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var warmUp = TimeSpan.FromSeconds(20);
            for (var i = 0; samples[0].Count < count; i++)
            {
                var counted = System.Diagnostics.Stopwatch.GetElapsedTime(started) >= warmUp;
                foreach (var variant in Variants.OrderBy(_ => Random.Shared.Next()))
                {
                    var id = 1 + i % 4;
                    var steps = variant switch
                    {
                        0 => await bench.SwitchboardStepsAsync(id),
                        1 => await bench.BarrierStepsAsync(id, switchboardRecord: false),
                        _ => await bench.BarrierStepsAsync(id, switchboardRecord: true),
                    };
                    if (counted)
                    {
                        samples[variant].Add(steps);
                    }
                }
            }

            Print("Switchboard", ["begin", "UPDATEs", "commit", "dispose"], samples[0]);
            Print("HandWrittenBarrier", ["open, begin", "UPDATEs", "record, prepare", "commit prepared", "dispose"], samples[1]);
            Print("HandWrittenBarrier, Switchboard's record", ["open, begin", "UPDATEs", "record, prepare", "commit prepared", "dispose"], samples[2]);
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
