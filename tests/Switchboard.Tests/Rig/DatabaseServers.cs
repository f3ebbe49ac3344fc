using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MySql.Data.MySqlClient;
using Npgsql;

namespace Switchboard.Tests.Rig;

/// <summary>
/// Starts a throwaway PostgreSQL 15 and MariaDB 10.11 on 127.0.0.1 (tests/rig/db-servers.sh) once for every test class
/// in the "servers" collection, and stops them by pid at the end. To use servers of your own instead, set
/// SWITCHBOARD_TEST_PG_PORT / SWITCHBOARD_TEST_PG_PASSWORD and SWITCHBOARD_TEST_MY_PORT / SWITCHBOARD_TEST_MY_PASSWORD
/// (user 'app', superuser / ALL PRIVILEGES, PostgreSQL with max_prepared_transactions > 0).
/// </summary>
public sealed class DatabaseServers : IAsyncLifetime
{
    private string? _root;
    private int _databaseCounter;

    public int PgPort { get; private set; }

    public string PgPassword { get; private set; } = "";

    public int MyPort { get; private set; }

    public string MyPassword { get; private set; } = "";

    public string PgVersion { get; private set; } = "";

    public string MyVersion { get; private set; } = "";

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("SWITCHBOARD_TEST_PG_PORT") is { } pg
            && Environment.GetEnvironmentVariable("SWITCHBOARD_TEST_MY_PORT") is { } my)
        {
            PgPort = int.Parse(pg);
            MyPort = int.Parse(my);
            PgPassword = Environment.GetEnvironmentVariable("SWITCHBOARD_TEST_PG_PASSWORD") ?? "";
            MyPassword = Environment.GetEnvironmentVariable("SWITCHBOARD_TEST_MY_PASSWORD") ?? "";
            return;
        }

        await StopAbandonedRigsAsync();
        _root = Path.Combine("/tmp", "switchboard-rig-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8]);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();
        var output = await RunScriptAsync("start", _root, FreePort().ToString(), FreePort().ToString());
        var values = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1].Trim());
        PgPort = int.Parse(values["PG_PORT"]);
        PgPassword = values["PG_PASSWORD"];
        PgVersion = values["PG_VERSION"];
        MyPort = int.Parse(values["MY_PORT"]);
        MyPassword = values["MY_PASSWORD"];
        MyVersion = values["MY_VERSION"];
    }

    public Task DisposeAsync()
    {
        Stop();
        return Task.CompletedTask;
    }

    /// <summary>A URL for a PostgreSQL database on the rig (the password percent-encoded).</summary>
    public string PgUrl(string database = "postgres") =>
        $"postgresql://app:{Uri.EscapeDataString(PgPassword)}@127.0.0.1:{PgPort}/{database}";

    public string MyUrl(string database) =>
        $"mysql://app:{Uri.EscapeDataString(MyPassword)}@127.0.0.1:{MyPort}/{database}";

    public string PgAdminConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={PgPort};Username=app;Password={PgPassword};Database={database};Pooling=false";

    public string MyAdminConnectionString(string? database = null) =>
        $"Server=127.0.0.1;Port={MyPort};User ID=app;Password={MyPassword};Pooling=false;CharacterSet=utf8mb4"
        + (database is null ? "" : ";Database=" + database);

    /// <summary>Creates a fresh, empty PostgreSQL database and returns its name.</summary>
    public async Task<string> CreatePgDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databaseCounter)}_{Guid.NewGuid().ToString("N")[..6]}".ToLowerInvariant();
        await using var connection = new NpgsqlConnection(PgAdminConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return name;
    }

    /// <summary>Creates a fresh, empty MariaDB database and returns its name.</summary>
    public async Task<string> CreateMyDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databaseCounter)}_{Guid.NewGuid().ToString("N")[..6]}".ToLowerInvariant();
        await using var connection = new MySqlConnection(MyAdminConnectionString());
        await connection.OpenAsync();
        await using var command = new MySqlCommand($"CREATE DATABASE `{name}` CHARACTER SET utf8mb4", connection);
        await command.ExecuteNonQueryAsync();
        return name;
    }

    /// <summary>
    /// A test process killed outright (a CI timeout, kill -9) cannot stop its servers; its folder names its pid, so the
    /// next run stops every rig whose test process is gone.
    /// </summary>
    private static async Task StopAbandonedRigsAsync()
    {
        foreach (var folder in Directory.EnumerateDirectories("/tmp", "switchboard-rig-*"))
        {
            var parts = Path.GetFileName(folder).Split('-');
            if (parts.Length >= 3 && int.TryParse(parts[2], out var owner) && !Directory.Exists("/proc/" + owner))
            {
                await RunScriptAsync("stop", folder);
            }
        }
    }

    private void Stop()
    {
        var root = Interlocked.Exchange(ref _root, null);
        if (root is not null)
        {
            RunScriptAsync("stop", root).GetAwaiter().GetResult();
        }
    }

    private static async Task<string> RunScriptAsync(params string[] args)
    {
        var script = Path.Combine(RepositoryRoot, "tests", "rig", "db-servers.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
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
            throw new InvalidOperationException($"db-servers.sh {args[0]} failed ({process.ExitCode}): {await stderr}");
        }

        return await stdout;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Switchboard.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (Switchboard.slnx)");
    }
}

[CollectionDefinition(Name)]
public sealed class ServersCollection : ICollectionFixture<DatabaseServers>
{
    public const string Name = "servers";
}
