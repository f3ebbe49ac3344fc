using System.Diagnostics;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL 15 cluster of this test's own, on a free port in /tmp, that a test may stop and start again (the shared
/// servers are never stopped). Same commands as tests/rig/db-servers.sh; the rig fixture has installed PostgreSQL by then.
/// </summary>
public sealed class ThrowawayPostgres : IAsyncDisposable
{
    public const string Password = "thr0waway-Pg-pw";
    private const string PgBin = "/usr/lib/postgresql/15/bin";
    private readonly string _root;
    private int _stopped;

    private ThrowawayPostgres(string root, int port)
    {
        _root = root;
        Port = port;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAndDelete();
    }

    public int Port { get; }

    public string Url(string database = "postgres") => $"postgresql://postgres:{Password}@127.0.0.1:{Port}/{database}";

    public static async Task<ThrowawayPostgres> StartAsync()
    {
        var root = Path.Combine("/tmp", "switchboard-aspnet-pg-" + Guid.NewGuid().ToString("N")[..8]);
        var server = new ThrowawayPostgres(root, DatabaseServers.FreePort());
        await Shell($"""
            mkdir -p {root} && chown postgres:postgres {root} && chmod 0755 {root}
            echo '{Password}' > {root}/pwfile && chown postgres {root}/pwfile && chmod 600 {root}/pwfile
            cd /tmp && runuser -u postgres -- {PgBin}/initdb -D {root}/data -U postgres --pwfile={root}/pwfile --auth-local=trust \
              --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync > {root}/initdb.log 2>&1 || (cat {root}/initdb.log >&2; exit 1)
            rm -f {root}/pwfile
            """);
        await server.StartServerAsync();
        return server;
    }

    public Task StartServerAsync() => Shell(
        $"cd /tmp && runuser -u postgres -- {PgBin}/pg_ctl -D {_root}/data -l {_root}/server.log -w -t 60 "
        + $"-o \"-p {Port} -k {_root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50\" start > /dev/null");

    public Task StopServerAsync() => Shell($"cd /tmp && runuser -u postgres -- {PgBin}/pg_ctl -D {_root}/data -m fast -w -t 60 stop > /dev/null");

    public ValueTask DisposeAsync()
    {
        StopAndDelete();
        return ValueTask.CompletedTask;
    }

    private void StopAndDelete()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        Shell($"cd /tmp && runuser -u postgres -- {PgBin}/pg_ctl -D {_root}/data -m immediate -w -t 60 stop > /dev/null 2>&1 || true; rm -rf {_root}")
            .GetAwaiter().GetResult();
    }

    private static async Task Shell(string script)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("set -e\n" + script);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await Switchboard.Tests.Rig.ScriptProcess.WaitAsync(process, start);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"throwaway PostgreSQL: command failed ({process.ExitCode}): {await stderr}");
        }
    }
}
