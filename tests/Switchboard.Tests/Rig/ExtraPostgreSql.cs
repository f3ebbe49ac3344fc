using System.Diagnostics;

namespace Switchboard.Tests.Rig;

/// <summary>
/// A PostgreSQL 15 of a test's own, started with settings the shared rig does not have (tests/rig/pg-server.sh), on a free
/// port under /tmp, and stopped by pid when disposed.
/// </summary>
public sealed class ExtraPostgreSql : IAsyncDisposable
{
    private readonly string _root;

    private ExtraPostgreSql(string root, int port, string password)
    {
        _root = root;
        Port = port;
        Password = password;
    }

    public int Port { get; }

    public string Password { get; }

    public string Url(string database = "postgres") => $"postgresql://app:{Uri.EscapeDataString(Password)}@127.0.0.1:{Port}/{database}";

    /// <summary>Starts a server; <paramref name="settings"/> are <c>name=value</c> server settings.</summary>
    public static async Task<ExtraPostgreSql> StartAsync(params string[] settings)
    {
        var root = Path.Combine("/tmp", "switchboard-pg-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8]);
        var port = DatabaseServers.FreePort();
        var args = new List<string> { "start", root, port.ToString() };
        foreach (var setting in settings)
        {
            args.Add("-c");
            args.Add(setting);
        }

        var output = await RunAsync(args);
        var password = output.Split('\n').Select(l => l.Split('=', 2)).Where(p => p.Length == 2 && p[0] == "PG_PASSWORD").Select(p => p[1].Trim()).Single();
        return new ExtraPostgreSql(root, port, password);
    }

    public async ValueTask DisposeAsync() => await RunAsync(["stop", _root]);

    private static async Task<string> RunAsync(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(DatabaseServers.RepositoryRoot, "tests", "rig", "pg-server.sh"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await ScriptProcess.WaitAsync(process, start);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg-server.sh failed ({process.ExitCode}): {await stderr}");
        }

        return await stdout;
    }
}
