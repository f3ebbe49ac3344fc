using System.Diagnostics;
using System.Globalization;
using System.Text;
using Switchboard.Tests.Rig;
using Xunit.Abstractions;

namespace Switchboard.Tests.Transactions;

/// <summary>
/// Runs the crash harness (tests/Switchboard.CrashHarness) as real processes, trial after trial: each moves money across
/// PostgreSQL, MariaDB and a SQLite last resource until it dies — Environment.FailFast at a fault point, or kill -9 from
/// here at a random moment — and the next one recovers and checks all-or-nothing, the money total, and that no prepared
/// transaction is left. SWITCHBOARD_CRASH_TRIALS sets the number of trials (default 100); see docs/transactions.md for
/// the command that runs thousands.
/// </summary>
[Collection(ServersCollection.Name)]
public sealed class CrashHarnessTests(DatabaseServers servers, ITestOutputHelper output)
{
    private static readonly string[] Faults =
    [
        "AfterPrepare:0", "AfterPrepare:1", "AfterPrepare:2", "BeforeDecision", "AfterDecision", "AfterCommit:0", "AfterCommit:1",
        "AfterRollback", "RecoveryAfterDecision", "RecoveryAfterBranch",
    ];

    [Fact]
    public async Task Crashes_at_every_fault_point_and_at_random_moments_never_break_all_or_nothing()
    {
        var trials = int.TryParse(Environment.GetEnvironmentVariable("SWITCHBOARD_CRASH_TRIALS"), out var n) ? n : 100;
        var folder = Path.Combine(Path.GetTempPath(), "sb-crash-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            string[] databases =
            [
                "--orders", servers.PgUrl(await servers.CreatePgDatabaseAsync("crash")),
                "--billing", servers.MyUrl(await servers.CreateMyDatabaseAsync("crash")),
                "--audit", "sqlite:///" + Path.Combine(folder, "audit.db"),
                "--log", Path.Combine(folder, "log"),
            ];
            Assert.Equal(0, (await RunAsync(["setup", .. databases], killAfter: null)).ExitCode);

            var random = new Random(20261122);
            int crashed = 0, killed = 0, diedInRecovery = 0, recoveredCommits = 0, recoveredRollbacks = 0, faultIndex = 0;
            var stopwatch = Stopwatch.StartNew();
            for (var trial = 1; trial <= trials; trial++)
            {
                // Two trials in three die at a named point (each point in turn, on its k-th occurrence); the third is killed at random.
                var randomKill = trial % 3 == 0;
                // Recovery points die at their first occurrence: a trial's start-up recovery may have only one branch to settle.
                var point = Faults[faultIndex++ % Faults.Length];
                var fault = randomKill ? "none" : $"{point}@{(point.StartsWith("Recovery", StringComparison.Ordinal) ? 1 : random.Next(1, 6))}";
                TimeSpan? killAfter = randomKill ? TimeSpan.FromMilliseconds(random.Next(0, 400)) : null;
                var result = await RunAsync(["trial", .. databases, "--trial", trial.ToString(CultureInfo.InvariantCulture), "--fault", fault,
                    "--transfers", randomKill ? "100" : "15"], killAfter);
                Assert.True(result.ExitCode is 0 or 134 or 137 || result.Killed, $"trial {trial} (fault {fault}) exited with {result.ExitCode}:\n{result.Output}");
                crashed += result.ExitCode == 134 ? 1 : 0;
                killed += result.Killed ? 1 : 0;

                // A trial that dies inside its own start-up recovery (Recovery* points) prints no check: the next one checks.
                var lines = result.Output.Split('\n');
                var check = lines.FirstOrDefault(l => l.StartsWith("CHECK", StringComparison.Ordinal));
                Assert.True(check?.StartsWith("CHECK ok", StringComparison.Ordinal) ?? result.ExitCode == 134,
                    $"trial {trial} (fault {fault}): the state the previous trial left is wrong:\n{result.Output}");
                diedInRecovery += check is null ? 1 : 0;
                if (lines.FirstOrDefault(l => l.StartsWith("RECOVERED", StringComparison.Ordinal)) is { } recovered)
                {
                    recoveredCommits += Count(recovered, "committed");
                    recoveredRollbacks += Count(recovered, "rolledback");
                }
            }

            var final = await RunAsync(["check", .. databases], killAfter: null);
            Assert.True(final.ExitCode == 0, final.Output);
            recoveredCommits += Count(final.Output.Split('\n').First(l => l.StartsWith("RECOVERED", StringComparison.Ordinal)), "committed");
            output.WriteLine($"{trials} trials in {stopwatch.Elapsed.TotalSeconds:0} s: {crashed} died at a fault point ({diedInRecovery} inside recovery), {killed} killed; "
                + $"recovery committed {recoveredCommits} and rolled back {recoveredRollbacks} branches. {final.Output.Trim()}");

            // The harness really crashed, and recovery really had work in both directions.
            Assert.True(crashed + killed >= trials / 2, $"only {crashed + killed} of {trials} trials died");
            Assert.True(recoveredCommits > 0 && recoveredRollbacks > 0, $"recovery committed {recoveredCommits} and rolled back {recoveredRollbacks}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static int Count(string line, string key)
    {
        var start = line.IndexOf(key + "=", StringComparison.Ordinal) + key.Length + 1;
        var end = line.IndexOf(' ', start);
        return int.Parse(end < 0 ? line[start..] : line[start..end], CultureInfo.InvariantCulture);
    }

    private static async Task<(int ExitCode, bool Killed, string Output)> RunAsync(string[] args, TimeSpan? killAfter)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(HarnessPath);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["DOTNET_DbgEnableMiniDump"] = "0";
        using var process = Process.Start(start)!;
        var stdout = new StringBuilder();
        var transfersStarted = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (stdout)
            {
                stdout.AppendLine(e.Data);
            }

            if (e.Data.StartsWith("TRANSFERS started", StringComparison.Ordinal))
            {
                transfersStarted.TrySetResult();
            }
        };
        process.BeginOutputReadLine();
        var stderr = process.StandardError.ReadToEndAsync();
        var killed = false;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            if (killAfter is { } delay)
            {
                // kill -9 somewhere in the middle of the transfers.
                await Task.WhenAny(transfersStarted.Task, process.WaitForExitAsync(timeout.Token));
                await Task.Delay(delay);
                if (!process.HasExited)
                {
                    process.Kill();
                    killed = true;
                }
            }

            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            // A harness that hangs must not live on, holding connections and prepared branches, after its trial failed.
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var error = await stderr;
        lock (stdout)
        {
            var text = stdout.ToString();
            if (process.ExitCode is not (0 or 134 or 137) && !killed)
            {
                text += error;
            }

            return (process.ExitCode, killed, text);
        }
    }

    private static string HarnessPath
    {
        get
        {
            // tests/Switchboard.Tests/bin/{Configuration}/net10.0 → tests/Switchboard.CrashHarness/bin/{Configuration}/net10.0
            var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var configuration = testOutput.Parent!.Name;
            var path = Path.Combine(DatabaseServers.RepositoryRoot, "tests", "Switchboard.CrashHarness", "bin", configuration, testOutput.Name,
                "Switchboard.CrashHarness.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("build tests/Switchboard.CrashHarness first", path);
        }
    }
}
