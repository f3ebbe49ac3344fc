using System.Text.Json;
using Switchboard.Cli;
using Switchboard.Tests.Rig;
using Switchboard.Transactions;

namespace Switchboard.Tests.Transactions;

/// <summary><c>switchboard recover</c> run in-process against a crashed application's databases and log.</summary>
[Collection(ServersCollection.Name)]
public sealed class RecoverCommandTests(DatabaseServers servers) : IAsyncLifetime
{
    private TwoPhaseRig _rig = null!;

    public async Task InitializeAsync() => _rig = await TwoPhaseRig.CreateAsync(servers);

    public async Task DisposeAsync() => await _rig.DisposeAsync();

    [Fact]
    public async Task Recover_reports_in_a_dry_run_then_completes_what_a_crash_left_in_doubt()
    {
        // The application keeps its log where the CLI looks by default: ./.switchboard/transactions.
        var workingDirectory = Path.Combine(_rig.Folder, "app");
        Directory.CreateDirectory(workingDirectory);
        await File.WriteAllTextAsync(Path.Combine(workingDirectory, "switchboard.json"), JsonSerializer.Serialize(new
        {
            Databases = new Dictionary<string, object>
            {
                ["orders"] = new { Url = _rig.OrdersUrl },
                ["billing"] = new { Url = _rig.BillingUrl },
                ["audit"] = new { Url = _rig.AuditUrl },
            },
        }));
        var catalog = _rig.Catalog(o =>
        {
            o.LogFolder = Path.Combine(workingDirectory, ".switchboard", "transactions");
            o.FaultHandler = (p, _) =>
            {
                if (p == FaultPoint.AfterDecision)
                {
                    throw new SimulatedCrashException("after decision");
                }
            };
        });
        var tx = await catalog.BeginDistributedAsync("orders", "billing");
        await TwoPhaseRig.TransferAsync(tx, "orders", "billing", 40, async: true);
        await Assert.ThrowsAsync<SimulatedCrashException>(() => tx.CommitAsync());
        await tx.DisposeAsync();
        await catalog.DisposeAsync();

        var (code, output, error) = await RunAsync(workingDirectory, "recover", "--dry-run", "--json");
        Assert.True(code == SwitchboardCli.Failed, error); // something is left in doubt: what the dry run would commit
        using (var json = JsonDocument.Parse(output))
        {
            Assert.True(json.RootElement.GetProperty("log").GetProperty("found").GetBoolean());
            var ours = json.RootElement.GetProperty("actions").EnumerateArray().Where(a => a.GetProperty("transaction").GetString() == tx.Id).ToList();
            Assert.Equal(2, ours.Count);
            Assert.All(ours, a => Assert.Equal("wouldCommit", a.GetProperty("action").GetString()));
        }

        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(1)); // a dry run changes nothing

        // Run from a folder without the log: the branches look foreign there, but they are Switchboard's, so the run does
        // not report success (a monitoring job started in the wrong folder would stay green).
        var elsewhere = Path.Combine(_rig.Folder, "elsewhere");
        Directory.CreateDirectory(elsewhere);
        File.Copy(Path.Combine(workingDirectory, "switchboard.json"), Path.Combine(elsewhere, "switchboard.json"));
        (code, output, error) = await RunAsync(elsewhere, "recover");
        Assert.True(code == SwitchboardCli.Failed, output + error);
        Assert.Contains("no log was found here", output);
        Assert.Contains(TwoPhaseRig.LogIdOf(tx.Id).Trim('.'), output);
        Assert.DoesNotContain("Nothing of this application's is left in doubt", output);
        Assert.Equal((100, 100, 100), await _rig.BalancesAsync(1)); // left alone

        (code, output, error) = await RunAsync(workingDirectory, "recover");
        Assert.True(code == SwitchboardCli.Ok, output + error);
        Assert.Contains(tx.Id, output);
        Assert.Contains("committed", output);
        Assert.Contains("Nothing of this application's is left in doubt", output);
        Assert.DoesNotContain(servers.PgPassword, output);
        Assert.DoesNotContain(servers.MyPassword, output);
        Assert.Equal((60, 140, 100), await _rig.BalancesAsync(1));
        Assert.Empty(await _rig.PreparedAsync(TwoPhaseRig.LogIdOf(tx.Id)));
    }

    [Fact]
    public async Task Recover_without_a_log_touches_nothing_and_says_where_it_looked()
    {
        var workingDirectory = Path.Combine(_rig.Folder, "elsewhere");
        Directory.CreateDirectory(workingDirectory);
        await File.WriteAllTextAsync(Path.Combine(workingDirectory, "switchboard.json"),
            JsonSerializer.Serialize(new { Databases = new { orders = new { Url = _rig.OrdersUrl } } }));
        var (code, output, _) = await RunAsync(workingDirectory, "recover");
        Assert.Equal(SwitchboardCli.Ok, code);
        Assert.Contains("No transaction log at", output);
        Assert.Contains(Path.Combine(workingDirectory, ".switchboard", "transactions"), output);
        Assert.False(Directory.Exists(Path.Combine(workingDirectory, ".switchboard")));

        (code, _, var error) = await RunAsync(workingDirectory, "recover", "--log-folder", "x", "--log-database", "orders");
        Assert.Equal(SwitchboardCli.UsageError, code);
        Assert.Contains("not both", error);
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(string workingDirectory, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await SwitchboardCli.InvokeAsync(args, stdout, stderr, workingDirectory);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
