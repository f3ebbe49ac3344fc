using System.Diagnostics;
using MySql.Data.MySqlClient;
using Npgsql;

namespace Switchboard.Tests.Rig;

/// <summary>
/// A PostgreSQL 15 primary (node 0) with hot standbys (nodes 1..N) on 127.0.0.1, started by tests/rig/pg-replicas.sh in
/// a folder of its own; node 1 is the synchronous standby. Never the shared servers. Stopped by pid on dispose, and at
/// process exit if a test run dies first.
/// </summary>
public sealed class PgReplicaCluster : IAsyncDisposable
{
    private string? _root;

    private PgReplicaCluster(string root, int[] ports, string password)
    {
        _root = root;
        Ports = ports;
        Password = password;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();
    }

    public IReadOnlyList<int> Ports { get; }

    public string Password { get; }

    public string Root => _root ?? throw new ObjectDisposedException(nameof(PgReplicaCluster));

    public static async Task<PgReplicaCluster> StartAsync(int standbys = 2)
    {
        var root = Path.Combine("/tmp", $"switchboard-pgrepl-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        var ports = Enumerable.Range(0, standbys + 1).Select(_ => DatabaseServers.FreePort()).ToArray();
        try
        {
            var output = await RunAsync("pg-replicas.sh", ["start", root, .. ports.Select(p => p.ToString())]);
            var password = output.Split('\n').First(l => l.StartsWith("PG_PASSWORD=", StringComparison.Ordinal))["PG_PASSWORD=".Length..].Trim();
            return new PgReplicaCluster(root, ports, password);
        }
        catch
        {
            await RunAsync("pg-replicas.sh", ["stop", root]);
            throw;
        }
    }

    /// <summary>The primary's URL with the standbys as <c>Replicas</c> entries left to the caller.</summary>
    public string Url(int node = 0, string database = "postgres") =>
        $"postgresql://app:{Uri.EscapeDataString(Password)}@127.0.0.1:{Ports[node]}/{database}";

    /// <summary>A bare replica entry (host:port): everything else is inherited from the database.</summary>
    public string Host(int node) => $"127.0.0.1:{Ports[node]}";

    public string Target(int node, string database = "postgres") => $"127.0.0.1:{Ports[node]}/{database}";

    public string AdminConnectionString(int node, string database = "postgres") =>
        $"Host=127.0.0.1;Port={Ports[node]};Username=app;Password={Password};Database={database};Pooling=false;Timeout=5";

    public async Task<T> ScalarAsync<T>(int node, string sql, string database = "postgres")
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString(node, database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async Task ExecuteAsync(int node, string sql, string database = "postgres")
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString(node, database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Creates a database on the primary and waits until every running standby has replayed it.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid().ToString("N")[..8]}".ToLowerInvariant();
        await ExecuteAsync(0, $"CREATE DATABASE \"{name}\"");
        await WaitForReplayAsync();
        return name;
    }

    /// <summary>Waits until the standbys (all but <paramref name="except"/>) have replayed everything the primary has written.</summary>
    public async Task WaitForReplayAsync(int primary = 0, params int[] except)
    {
        var target = await ScalarAsync<string>(primary, "SELECT pg_current_wal_flush_lsn()::text");
        for (var node = 0; node < Ports.Count; node++)
        {
            if (node == primary || except.Contains(node))
            {
                continue;
            }

            var n = node;
            await Wait.UntilAsync(async () => await ScalarAsync<bool>(n, $"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"),
                TimeSpan.FromSeconds(20), $"standby {n} replays {target}");
        }
    }

    public Task PauseReplayAsync(int node) => ExecuteAsync(node, "SELECT pg_wal_replay_pause()");

    public Task ResumeReplayAsync(int node) => ExecuteAsync(node, "SELECT pg_wal_replay_resume()");

    /// <summary>Stops a node: <c>immediate</c> is a crash (no shutdown checkpoint, connections cut).</summary>
    public Task StopNodeAsync(int node, string mode = "immediate") => RunAsync("pg-replicas.sh", ["stop-node", Root, node.ToString(), mode]);

    public Task StartNodeAsync(int node) => RunAsync("pg-replicas.sh", ["start-node", Root, node.ToString()]);

    public Task PromoteAsync(int node) => RunAsync("pg-replicas.sh", ["promote", Root, node.ToString()]);

    /// <summary>Adds (or with null removes) a first line to a node's pg_hba.conf and reloads it; existing connections stay.</summary>
    public async Task SetHbaOverrideAsync(int node, string? line)
    {
        var file = Path.Combine(Root, "n" + node, "data", "pg_hba.conf");
        var lines = (await File.ReadAllLinesAsync(file)).Where(l => !l.EndsWith("# switchboard-test", StringComparison.Ordinal)).ToList();
        if (line is not null)
        {
            lines.Insert(0, line + " # switchboard-test");
        }

        await File.WriteAllLinesAsync(file, lines);
        await RunAsync("pg-replicas.sh", ["reload", Root, node.ToString()]);
    }

    public async ValueTask DisposeAsync()
    {
        var root = Interlocked.Exchange(ref _root, null);
        if (root is not null)
        {
            await RunAsync("pg-replicas.sh", ["stop", root]);
        }
    }

    private void Stop()
    {
        var root = Interlocked.Exchange(ref _root, null);
        if (root is not null)
        {
            RunAsync("pg-replicas.sh", ["stop", root]).GetAwaiter().GetResult();
        }
    }

    internal static async Task<string> RunAsync(string script, string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(DatabaseServers.RepositoryRoot, "tests", "rig", script));
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
            throw new InvalidOperationException($"{script} {args[0]} failed ({process.ExitCode}): {await stderr}");
        }

        return await stdout;
    }
}

/// <summary>A MariaDB 10.11 primary and GTID replica on 127.0.0.1 (tests/rig/mariadb-replica.sh), stopped by pid on dispose.</summary>
public sealed class MariaDbReplicaPair : IAsyncDisposable
{
    private string? _root;

    private MariaDbReplicaPair(string root, int primaryPort, int replicaPort, string password)
    {
        _root = root;
        PrimaryPort = primaryPort;
        ReplicaPort = replicaPort;
        Password = password;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();
    }

    public int PrimaryPort { get; }

    public int ReplicaPort { get; }

    public string Password { get; }

    public static async Task<MariaDbReplicaPair> StartAsync()
    {
        var root = Path.Combine("/tmp", $"switchboard-myrepl-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        int primary = DatabaseServers.FreePort(), replica = DatabaseServers.FreePort();
        try
        {
            var output = await PgReplicaCluster.RunAsync("mariadb-replica.sh", ["start", root, primary.ToString(), replica.ToString()]);
            var password = output.Split('\n').First(l => l.StartsWith("MY_PASSWORD=", StringComparison.Ordinal))["MY_PASSWORD=".Length..].Trim();
            return new MariaDbReplicaPair(root, primary, replica, password);
        }
        catch
        {
            await PgReplicaCluster.RunAsync("mariadb-replica.sh", ["stop", root]);
            throw;
        }
    }

    public string Url(string database) => $"mariadb://app:{Uri.EscapeDataString(Password)}@127.0.0.1:{PrimaryPort}/{database}";

    public string ReplicaHost => $"127.0.0.1:{ReplicaPort}";

    public string AdminConnectionString(bool replica, string? database = null) =>
        $"Server=127.0.0.1;Port={(replica ? ReplicaPort : PrimaryPort)};User ID=app;Password={Password};Pooling=false;CharacterSet=utf8mb4"
        + (database is null ? "" : ";Database=" + database);

    /// <summary>Runs SQL as root over the node's socket (root may do what 'app' may not: STOP SLAVE, CREATE DATABASE).</summary>
    public Task<string> RootSqlAsync(bool replica, string sql) =>
        PgReplicaCluster.RunAsync("mariadb-replica.sh", ["sql", _root!, replica ? "replica" : "primary", sql]);

    public async Task<T> ScalarAsync<T>(bool replica, string sql, string? database = null)
    {
        await using var connection = new MySqlConnection(AdminConnectionString(replica, database));
        await connection.OpenAsync();
        await using (var charset = new MySqlCommand("SET character_set_results = utf8mb4", connection))
        {
            await charset.ExecuteNonQueryAsync();
        }

        await using var command = new MySqlCommand(sql, connection);
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync())!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        var root = Interlocked.Exchange(ref _root, null);
        if (root is not null)
        {
            await PgReplicaCluster.RunAsync("mariadb-replica.sh", ["stop", root]);
        }
    }

    private void Stop()
    {
        var root = Interlocked.Exchange(ref _root, null);
        if (root is not null)
        {
            PgReplicaCluster.RunAsync("mariadb-replica.sh", ["stop", root]).GetAwaiter().GetResult();
        }
    }
}

/// <summary>One shared PostgreSQL replication cluster for the routing tests that leave it as they found it.</summary>
public sealed class PgReplicaClusterFixture : IAsyncLifetime
{
    public PgReplicaCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await PgReplicaCluster.StartAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class PgReplicasCollection : ICollectionFixture<PgReplicaClusterFixture>
{
    public const string Name = "pg-replicas";
}

/// <summary>Polling with a deadline, for conditions a background monitor makes true.</summary>
public static class Wait
{
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!await condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting until {what}");
            }

            await Task.Delay(20);
        }
    }

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, what);
}
