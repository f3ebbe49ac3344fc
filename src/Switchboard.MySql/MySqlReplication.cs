using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Switchboard.Dialects;

namespace Switchboard.MySql;

/// <summary>
/// MariaDB GTID replication: a server is a replica when it is read-only or runs replication threads; positions are GTID
/// positions (<c>domain-server-sequence</c>, one per domain). Written for MariaDB: MySQL's GTID sets have another form.
/// </summary>
public sealed partial class MySqlDialect
{
    // One round trip, two results. gtid_current_pos covers both what a server wrote itself and what it replicated.
    private const string ProbeSql = "SELECT @@read_only, @@gtid_current_pos; SHOW SLAVE STATUS";

    private const string ProbeWithoutSlaveStatusSql = "SELECT @@read_only, @@gtid_current_pos";

    // Connections whose user may not run SHOW SLAVE STATUS (no SLAVE MONITOR privilege): read_only alone decides.
    private readonly ConditionalWeakTable<DbConnection, object> _noSlaveStatus = [];

    public override bool SupportsReplication => true;

    public override IReadOnlyList<ConnectionSettings> CreateHostSettings(ConnectionSettings database, ReplicaEntry? replica, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(problems);
        var before = problems.Count;
        var builder = NewBuilder(database.ConnectionString);
        if (replica?.Url is { } url)
        {
            var ports = url.Hosts.Select(h => h.Port).Where(p => p is not null).Distinct().ToList();
            if (ports.Count > 1)
            {
                problems.Add("MySQL drivers take one port for all hosts; give every host of one replica entry the same port");
                return [];
            }

            builder["Server"] = string.Join(',', url.Hosts.Select(h => h.Host));
            if (ports.Count == 1)
            {
                builder["Port"] = ports[0]!.Value.ToString(CultureInfo.InvariantCulture);
            }

            if (url.UserName is not null)
            {
                builder["User ID"] = url.UserName;
            }

            if (url.Password is not null)
            {
                builder["Password"] = url.Password;
            }

            if (url.Database is not null)
            {
                builder["Database"] = url.Database;
            }

            foreach (var (key, value) in url.Query)
            {
                ApplyOption(builder, key, value, problems);
            }
        }
        else if (replica?.ConnectionString is { } overlay)
        {
            var given = new DbConnectionStringBuilder { ConnectionString = overlay };
            foreach (string key in given.Keys)
            {
                ApplyOption(builder, key, given[key]?.ToString() ?? string.Empty, problems);
            }
        }

        if (problems.Count > before)
        {
            return [];
        }

        var server = builder.TryGetValue("Server", out var s) ? s?.ToString() : null;
        if (string.IsNullOrWhiteSpace(server))
        {
            problems.Add("no host (Server)");
            return [];
        }

        var port = builder.TryGetValue("Port", out var p) ? Convert.ToInt32(p, CultureInfo.InvariantCulture) : DefaultPort!.Value;
        var result = new List<ConnectionSettings>();
        foreach (var host in server.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var single = NewBuilder(builder.ConnectionString);
            single["Server"] = host;
            var databaseName = single.TryGetValue("Database", out var d) ? d?.ToString() : null;
            var user = single.TryGetValue("User ID", out var u) ? u?.ToString() : null;
            var password = single.TryGetValue("Password", out var pw) ? pw?.ToString() : null;
            IReadOnlyList<string> secrets = password is { Length: > 0 } ? [password] : [];
            var h = new DatabaseHost(host, port);
            result.Add(new ConnectionSettings(single.ConnectionString, $"{h}/{databaseName}", [h], databaseName, user, secrets));
        }

        return result;
    }

    public override async ValueTask<ReplicationProbe> ProbeReplicationAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var withSlaveStatus = !_noSlaveStatus.TryGetValue(connection, out _);
        try
        {
            return await ProbeAsync(connection, withSlaveStatus, async, cancellationToken).ConfigureAwait(false);
        }
        catch (DbException e) when (withSlaveStatus && Classify(e) == DatabaseErrorKind.PermissionDenied)
        {
            _noSlaveStatus.AddOrUpdate(connection, new object());
            return await ProbeAsync(connection, false, async, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async ValueTask<ReplicationProbe> ProbeAsync(DbConnection connection, bool withSlaveStatus, bool async, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = withSlaveStatus ? ProbeSql : ProbeWithoutSlaveStatusSql;
        var reader = async ? await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteReader();
        await using (reader.ConfigureAwait(false))
        {
            if (!(async ? await reader.ReadAsync(cancellationToken).ConfigureAwait(false) : reader.Read()))
            {
                throw new InvalidOperationException("the replication probe returned no row");
            }

            var readOnly = Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture) != 0;
            var position = GtidPosition.TryParse(reader.IsDBNull(1) ? "" : reader.GetString(1), out var gtid) ? gtid : null;
            // Read-only with no replication configured: a demoted primary, or a replica whose replication was reset.
            string? note = withSlaveStatus ? "read-only and not replicating" : null;
            var replicating = false;
            if (withSlaveStatus && (async ? await reader.NextResultAsync(cancellationToken).ConfigureAwait(false) : reader.NextResult())
                && (async ? await reader.ReadAsync(cancellationToken).ConfigureAwait(false) : reader.Read()))
            {
                var io = Column(reader, "Slave_IO_Running");
                var sql = Column(reader, "Slave_SQL_Running");
                replicating = io == "Yes" || sql == "Yes";
                note = sql != "Yes" ? "replication SQL thread stopped" : io != "Yes" ? "not connected to a primary" : null;
            }

            return new ReplicationProbe(!readOnly && !replicating, position, readOnly || replicating ? note : null);
        }
    }

    private static string? Column(DbDataReader reader, string name)
    {
        for (var i = 0; i < reader.FieldCount; i++)
        {
            if (string.Equals(reader.GetName(i), name, StringComparison.OrdinalIgnoreCase))
            {
                return reader.IsDBNull(i) ? null : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    /// <summary>The primary's binary log position right after the commit: it contains the commit's own GTID.</summary>
    public override async ValueTask<ReplicationPosition> ReadCommitPositionAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT @@gtid_binlog_pos";
        var text = async ? await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteScalar();
        return text is string s && GtidPosition.TryParse(s, out var position) ? position : ReplicationPosition.Unknown;
    }

    /// <summary>MariaDB waits on the server: <c>MASTER_GTID_WAIT</c> returns 0 once the position is applied, -1 on timeout.</summary>
    public override async ValueTask<bool> WaitForPositionAsync(DbConnection connection, ReplicationPosition position, TimeSpan timeout, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (position is not GtidPosition)
        {
            return false;
        }

        using var command = connection.CreateCommand();
        command.CommandText = "SELECT MASTER_GTID_WAIT(@position, @timeout)";
        var text = command.CreateParameter();
        text.ParameterName = "@position";
        text.Value = position.ToString();
        command.Parameters.Add(text);
        var seconds = command.CreateParameter();
        seconds.ParameterName = "@timeout";
        seconds.Value = timeout.TotalSeconds;
        command.Parameters.Add(seconds);
        command.CommandTimeout = Math.Max(command.CommandTimeout, (int)Math.Ceiling(timeout.TotalSeconds) + 5);
        var result = async ? await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteScalar();
        return result is not null and not DBNull && Convert.ToInt64(result, CultureInfo.InvariantCulture) == 0;
    }

    public override bool TryParsePosition(string text, [NotNullWhen(true)] out ReplicationPosition? position)
    {
        position = GtidPosition.TryParse(text, out var gtid) ? gtid : null;
        return position is not null;
    }

    public override void ClearPool(DbDataSource dataSource)
    {
        // Thread ids restart with the server: forget which connections had their charset fixed, or a new connection
        // reusing an old id would skip the fix.
        _prepared.Clear();
        base.ClearPool(dataSource);
    }

    private DbConnectionStringBuilder NewBuilder(string connectionString)
    {
        var builder = _driver.Factory.CreateConnectionStringBuilder()
            ?? throw new InvalidOperationException($"{_driver.DriverName} has no connection string builder");
        builder.ConnectionString = connectionString;
        return builder;
    }

    /// <summary>A MariaDB GTID position: per replication domain, the last sequence number applied.</summary>
    private sealed class GtidPosition : ReplicationPosition
    {
        private readonly (uint Domain, uint Server, ulong Sequence)[] _entries;

        private GtidPosition((uint, uint, ulong)[] entries)
        {
            _entries = entries;
        }

        public static bool TryParse(string text, [NotNullWhen(true)] out GtidPosition? position)
        {
            position = null;
            var entries = new List<(uint Domain, uint Server, ulong Sequence)>();
            foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var fields = part.Split('-');
                if (fields.Length != 3
                    || !uint.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var domain)
                    || !uint.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var server)
                    || !ulong.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
                    || entries.Any(e => e.Domain == domain))
                {
                    return false;
                }

                entries.Add((domain, server, sequence));
            }

            position = new GtidPosition([.. entries.OrderBy(e => e.Domain)]);
            return true;
        }

        /// <summary>Every domain of <paramref name="other"/> is applied here up to its sequence number (the server id does not matter).</summary>
        public override bool Covers(ReplicationPosition other)
        {
            if (other is not GtidPosition gtid)
            {
                return false;
            }

            foreach (var (domain, _, sequence) in gtid._entries)
            {
                var found = false;
                foreach (var mine in _entries)
                {
                    if (mine.Domain == domain)
                    {
                        found = mine.Sequence >= sequence;
                        break;
                    }
                }

                if (!found)
                {
                    return false;
                }
            }

            return true;
        }

        public override ReplicationPosition Merge(ReplicationPosition other)
        {
            if (other is not GtidPosition gtid)
            {
                return base.Merge(other);
            }

            var merged = _entries.ToDictionary(e => e.Domain);
            foreach (var e in gtid._entries)
            {
                if (!merged.TryGetValue(e.Domain, out var mine) || mine.Sequence < e.Sequence)
                {
                    merged[e.Domain] = e;
                }
            }

            return new GtidPosition([.. merged.Values.OrderBy(e => e.Domain)]);
        }

        public override string ToString()
        {
            var sb = new StringBuilder();
            foreach (var (domain, server, sequence) in _entries)
            {
                sb.Append(sb.Length == 0 ? "" : ",").Append(CultureInfo.InvariantCulture, $"{domain}-{server}-{sequence}");
            }

            return sb.ToString();
        }
    }
}
