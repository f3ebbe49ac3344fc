using System.Data.Common;
using System.Globalization;
using Npgsql;
using Switchboard.Dialects;

namespace Switchboard.PostgreSql;

/// <summary>
/// PostgreSQL through Npgsql. URLs follow libpq (<c>postgresql://user:pass@h1:5432,h2:5433/db?sslmode=require</c>);
/// libpq query parameters are translated to Npgsql keywords, anything else is passed to Npgsql as a keyword.
/// </summary>
public sealed partial class PostgreSqlDialect : Dialect
{
    private static readonly Dictionary<string, string> LibpqKeywords = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sslmode"] = "SSL Mode",
        ["application_name"] = "Application Name",
        ["connect_timeout"] = "Timeout",
        ["target_session_attrs"] = "Target Session Attributes",
        ["sslcert"] = "SSL Certificate",
        ["sslkey"] = "SSL Key",
        ["sslrootcert"] = "Root Certificate",
        ["sslpassword"] = "SSL Password",
        ["options"] = "Options",
        ["keepalives_idle"] = "Keepalive",
        ["search_path"] = "Search Path",
    };

    public override string Name => "postgresql";

    public override IReadOnlyList<string> Aliases { get; } = ["postgresql", "postgres", "pgsql", "npgsql"];

    public override int? DefaultPort => 5432;

    public override bool SupportsTwoPhaseCommit => true;

    public override bool TransactionAbortsOnError => true;

    public override async ValueTask<bool> CommitTransactionAsync(DbConnection connection, DbTransaction transaction, bool checkAborted, bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (!checkAborted)
        {
            // Every statement went through the session, which refuses to commit after a failed one.
            return await base.CommitTransactionAsync(connection, transaction, checkAborted, async, cancellationToken).ConfigureAwait(false);
        }

        // PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK and no error, so a statement that failed on the
        // connection itself (not through the session's helpers, which keep count) would make the commit a silent rollback.
        // A bare SELECT ahead of COMMIT, in the same round trip, fails instead (25P02), and COMMIT is then skipped.
        using var batch = connection.CreateBatch();
        batch.Transaction = transaction;
        var guard = batch.CreateBatchCommand();
        guard.CommandText = "SELECT";
        batch.BatchCommands.Add(guard);
        var commit = batch.CreateBatchCommand();
        commit.CommandText = "COMMIT";
        batch.BatchCommands.Add(commit);
        try
        {
            if (async)
            {
                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                batch.ExecuteNonQuery();
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InFailedSqlTransaction)
        {
            return false;
        }

        return true;
    }

    public override ConnectionSettings? CreateSettings(ConnectionRequest request, ICollection<string> problems)
    {
        var before = problems.Count;
        var builder = new NpgsqlConnectionStringBuilder();
        if (request.Url is { } url)
        {
            builder.Host = string.Join(',', url.Hosts.Select(h => h.Port is { } p ? $"{Bracket(h.Host)}:{p}" : Bracket(h.Host)));
            builder.Username = url.UserName;
            builder.Password = url.Password;
            builder.Database = url.Database;
        }
        else
        {
            SetConnectionString(builder, request.ConnectionString, (key, value) => ApplyOption(builder, key, value, problems));
        }

        if (request.Password is not null)
        {
            builder.Password = request.Password;
        }

        builder.MaxPoolSize = request.Pool.MaxSize;
        builder.MinPoolSize = request.Pool.MinIdle;
        builder.ConnectionLifetime = request.Pool.ConnectionLifetime is { } life ? Math.Max(1, (int)life.TotalSeconds) : 0;
        builder.Timeout = Math.Clamp((int)request.ConnectTimeout.TotalSeconds, 1, 1024);
        builder.CommandTimeout = Math.Max(1, (int)request.CommandTimeout.TotalSeconds);
        foreach (var (key, value) in request.ProviderOptions)
        {
            ApplyOption(builder, key, value, problems);
        }

        if (problems.Count > before)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            problems.Add("no host");
            return null;
        }

        var hosts = builder.Host.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(h => ParseHost(h, builder.Port)).ToList();
        var target = string.Join(',', hosts) + "/" + (builder.Database ?? builder.Username ?? "");
        IReadOnlyList<string> secrets = builder.Password is { Length: > 0 } password ? [password] : [];
        return new ConnectionSettings(builder.ConnectionString, target, hosts, builder.Database, builder.Username, secrets);
    }

    public override DbDataSource CreateDataSource(DatabaseDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var builder = new NpgsqlDataSourceBuilder(definition.Connection.ConnectionString);

        // Npgsql's statement spans name the server database only: tag them with the application's name for it too, so
        // that EF Core and plain ADO.NET statements on this data source show by name like sessions do.
        var name = definition.Name;
        builder.ConfigureTracing(tracing => tracing
            .ConfigureCommandEnrichmentCallback((activity, _) => activity.SetTag(SwitchboardDiagnostics.DatabaseTag, name))
            .ConfigureBatchEnrichmentCallback((activity, _) => activity.SetTag(SwitchboardDiagnostics.DatabaseTag, name)));
        return builder.Build();
    }

    public override void ClearPool(DbConnection connection) => NpgsqlConnection.ClearPool((NpgsqlConnection)connection);

    public override DatabaseErrorKind Classify(Exception exception) => exception switch
    {
        PostgresException e => e.SqlState switch
        {
            "23505" => DatabaseErrorKind.UniqueViolation,
            "23503" => DatabaseErrorKind.ForeignKeyViolation,
            "23502" => DatabaseErrorKind.NotNullViolation,
            "23514" => DatabaseErrorKind.CheckViolation,
            "40P01" => DatabaseErrorKind.Deadlock,
            "40001" => DatabaseErrorKind.SerializationFailure,
            "25006" => DatabaseErrorKind.ReadOnlyTransaction,
            "42601" => DatabaseErrorKind.SyntaxError,
            "42P01" or "42703" or "42883" or "3D000" => DatabaseErrorKind.UndefinedObject,
            "42501" or "28000" or "28P01" => DatabaseErrorKind.PermissionDenied,
            "57014" => DatabaseErrorKind.Timeout,
            "57P01" or "57P02" or "57P03" => DatabaseErrorKind.ConnectionLost,
            var s when s.StartsWith("08", StringComparison.Ordinal) => DatabaseErrorKind.ConnectionLost,
            _ => DatabaseErrorKind.Other,
        },
        NpgsqlException { InnerException: TimeoutException } => DatabaseErrorKind.Timeout,
        NpgsqlException { IsTransient: true } => DatabaseErrorKind.ConnectionLost,
        _ => base.Classify(exception),
    };

    /// <summary>A URL query parameter or Options entry: libpq names are translated to Npgsql keywords.</summary>
    private static void ApplyOption(NpgsqlConnectionStringBuilder builder, string key, string value, ICollection<string> problems)
    {
        var keyword = LibpqKeywords.GetValueOrDefault(key, key);
        if (string.Equals(keyword, "SSL Mode", StringComparison.OrdinalIgnoreCase))
        {
            if (SslMode(value) is not { } mode)
            {
                problems.Add($"{key} '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full");
                return;
            }

            value = mode;
        }

        SetOption(builder, key, keyword, value, problems);
    }

    private static string Bracket(string host) => host.Contains(':', StringComparison.Ordinal) ? "[" + host + "]" : host;

    private static DatabaseHost ParseHost(string host, int defaultPort)
    {
        var colon = host.LastIndexOf(':');
        var bracket = host.LastIndexOf(']');
        if (colon > bracket && int.TryParse(host.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return new DatabaseHost(host[..colon].Trim('[', ']'), port);
        }

        return new DatabaseHost(host.Trim('[', ']'), defaultPort);
    }

    /// <summary>libpq's sslmode values (and Npgsql's own spellings), as Npgsql spells them; null for anything else.</summary>
    private static string? SslMode(string value) => value.Trim().ToLowerInvariant() switch
    {
        "disable" => "Disable",
        "allow" => "Allow",
        "prefer" => "Prefer",
        "require" => "Require",
        "verify-ca" or "verifyca" => "VerifyCA",
        "verify-full" or "verifyfull" => "VerifyFull",
        _ => null,
    };
}
