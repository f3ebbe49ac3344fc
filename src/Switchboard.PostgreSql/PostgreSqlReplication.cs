using System.Data.Common;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Npgsql;
using Switchboard.Dialects;

namespace Switchboard.PostgreSql;

/// <summary>Streaming replication: roles from <c>pg_is_in_recovery()</c>, positions as LSNs.</summary>
public sealed partial class PostgreSqlDialect
{
    // One round trip: the role, how far this server has written (primary) or replayed (standby), and why a standby
    // might not be keeping up. pg_is_wal_replay_paused() is only asked on a standby (it errors on a primary).
    private const string ProbeSql = """
        SELECT pg_is_in_recovery(),
               (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_flush_lsn() END)::text,
               CASE WHEN NOT pg_is_in_recovery() THEN NULL
                    WHEN pg_is_wal_replay_paused() THEN 'replay paused'
                    WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 'not streaming from a primary'
               END,
               CASE WHEN NOT pg_is_in_recovery() THEN substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END
        """;

    // After a commit: with synchronous_commit on (local, remote_*), the commit record has been flushed, so the flush
    // position covers it exactly. With synchronous_commit off it may not be flushed yet: the insert position always
    // covers it (it may sit past a page header, which only makes a replica count as behind until more WAL arrives).
    private const string CommitPositionSql = """
        SELECT (CASE WHEN current_setting('synchronous_commit') = 'off' THEN pg_current_wal_insert_lsn() ELSE pg_current_wal_flush_lsn() END)::text
        """;

    private const string ReplayedSql = "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)";

    public override bool SupportsReplication => true;

    public override IReadOnlyList<ConnectionSettings> CreateHostSettings(ConnectionSettings database, ReplicaEntry? replica, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(database);
        var before = problems.Count;
        var builder = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        if (replica?.Url is { } url)
        {
            builder.Host = string.Join(',', url.Hosts.Select(h => h.Port is { } p ? $"{Bracket(h.Host)}:{p}" : Bracket(h.Host)));
            if (url.UserName is not null)
            {
                builder.Username = url.UserName;
            }

            if (url.Password is not null)
            {
                builder.Password = url.Password;
            }

            if (url.Database is not null)
            {
                builder.Database = url.Database;
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

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            problems.Add("no host");
            return [];
        }

        // Each host gets a plain single-host pool; Switchboard, not Npgsql, decides which host a session goes to.
        builder.TargetSessionAttributes = null;
        var result = new List<ConnectionSettings>();
        foreach (var host in builder.Host.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(h => ParseHost(h, builder.Port)))
        {
            var single = new NpgsqlConnectionStringBuilder(builder.ConnectionString) { Host = Bracket(host.Host), Port = host.Port ?? builder.Port };
            IReadOnlyList<string> secrets = single.Password is { Length: > 0 } password ? [password] : [];
            result.Add(new ConnectionSettings(single.ConnectionString, $"{host}/{single.Database ?? single.Username ?? ""}", [host], single.Database,
                single.Username, secrets));
        }

        return result;
    }

    public override async ValueTask<ReplicationProbe> ProbeReplicationAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.CommandText = ProbeSql;
        var reader = async ? await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteReader();
        await using (reader.ConfigureAwait(false))
        {
            if (!(async ? await reader.ReadAsync(cancellationToken).ConfigureAwait(false) : reader.Read()))
            {
                throw new InvalidOperationException("the replication probe returned no row");
            }

            var inRecovery = reader.GetBoolean(0);
            var position = reader.IsDBNull(1) ? null : PgLsn.Parse(reader.GetString(1));
            var note = reader.IsDBNull(2) ? null : reader.GetString(2);

            // A primary's timeline (the first eight hex digits of its current WAL file name) grows with every promotion: of
            // two servers that both say they are primary, the one on the higher timeline was promoted last.
            long? timeline = reader.IsDBNull(3) ? null : long.Parse(reader.GetString(3), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            return new ReplicationProbe(!inRecovery, position, note) { Term = timeline };
        }
    }

    public override async ValueTask<ReplicationPosition> ReadCommitPositionAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.CommandText = CommitPositionSql;
        var text = async ? await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteScalar();
        return text is string lsn ? PgLsn.Parse(lsn) : ReplicationPosition.Unknown;
    }

    /// <summary>PostgreSQL 15 has no server-side wait for an LSN: poll, quickly at first, until it is replayed or time is up.</summary>
    public override async ValueTask<bool> WaitForPositionAsync(DbConnection connection, ReplicationPosition position, TimeSpan timeout, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (position is not PgLsn lsn)
        {
            return false;
        }

        using var command = (NpgsqlCommand)connection.CreateCommand();
        command.CommandText = ReplayedSql;
        command.Parameters.Add(new NpgsqlParameter { Value = lsn.ToString() });
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var pause = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            var replayed = async ? await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteScalar();
            if (replayed is true)
            {
                return true;
            }

            var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            await PauseAsync(pause < left ? pause : left, async, cancellationToken).ConfigureAwait(false);

            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 10));
        }
    }

    public override bool TryParsePosition(string text, [NotNullWhen(true)] out ReplicationPosition? position)
    {
        position = PgLsn.TryParse(text, out var lsn) ? lsn : null;
        return position is not null;
    }

    public override void ClearPool(DbDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ((NpgsqlDataSource)dataSource).Clear();
    }

    /// <summary>A write-ahead-log position, written as PostgreSQL does (<c>0/3000060</c>).</summary>
    private sealed class PgLsn(ulong value) : ReplicationPosition
    {
        public ulong Value { get; } = value;

        public static PgLsn Parse(string text) =>
            TryParse(text, out var lsn) ? lsn : throw new FormatException($"'{text}' is not a PostgreSQL LSN");

        public static bool TryParse(string text, [NotNullWhen(true)] out PgLsn? lsn)
        {
            lsn = null;
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0
                || !uint.TryParse(text.AsSpan(0, slash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var high)
                || !uint.TryParse(text.AsSpan(slash + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var low))
            {
                return false;
            }

            lsn = new PgLsn(((ulong)high << 32) | low);
            return true;
        }

        public override bool Covers(ReplicationPosition other) => other is PgLsn lsn && Value >= lsn.Value;

        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"{Value >> 32:X}/{Value & 0xFFFFFFFF:X}");
    }
}
