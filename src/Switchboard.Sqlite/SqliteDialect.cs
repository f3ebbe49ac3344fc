using System.Data;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Switchboard.Dialects;

namespace Switchboard.Sqlite;

/// <summary>
/// SQLite through Microsoft.Data.Sqlite. File databases are opened in WAL mode with foreign keys enforced (both can be
/// turned off with the <c>journal_mode</c> and <c>foreign_keys</c> options); the folder of a new file is created.
/// <c>:memory:</c> is one shared in-memory database per engine, kept alive while the engine lives.
/// Read-write transactions begin IMMEDIATE (as Rails does) so two writers queue on the busy timeout instead of failing
/// on a lock upgrade; <c>transaction_mode=deferred</c> restores SQLite's default. Read-only sessions always begin DEFERRED.
/// </summary>
public sealed partial class SqliteDialect : Dialect
{
    // Per-engine settings, read from the options once when the engine's data source is created.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<DatabaseDefinition, EngineState> _states = [];

    public override string Name => "sqlite";

    public override IReadOnlyList<string> Aliases { get; } = ["sqlite", "sqlite3"];

    public override bool HasServer => false;

    public override ConnectionSettings? CreateSettings(ConnectionRequest request, ICollection<string> problems)
    {
        var builder = request.Url is { } url
            ? new SqliteConnectionStringBuilder { DataSource = url.Database }
            : new SqliteConnectionStringBuilder(request.ConnectionString);
        var memory = builder.DataSource is ":memory:" || builder.Mode == SqliteOpenMode.Memory;
        builder.Pooling = true;
        builder.DefaultTimeout = Math.Max(1, (int)request.CommandTimeout.TotalSeconds);
        builder.ForeignKeys ??= true;
        if (request.Password is not null)
        {
            builder.Password = request.Password;
        }

        foreach (var (key, value) in request.ProviderOptions)
        {
            switch (key.ToLowerInvariant())
            {
                case "journal_mode" or "journalmode":
                    if (value.ToLowerInvariant() is not ("wal" or "delete" or "truncate" or "persist" or "memory" or "off"))
                    {
                        problems.Add($"journal_mode '{value}' is not one of wal, delete, truncate, persist, memory, off");
                    }

                    break;
                case "transaction_mode":
                    if (value.ToLowerInvariant() is not ("immediate" or "deferred"))
                    {
                        problems.Add($"transaction_mode '{value}' is not immediate or deferred");
                    }

                    break;
                case "foreign_keys":
                    builder.ForeignKeys = ParseBool(value, key, problems);
                    break;
                case "mode":
                    builder.Mode = value.ToLowerInvariant() switch
                    {
                        "ro" or "readonly" => SqliteOpenMode.ReadOnly,
                        "rw" or "readwrite" => SqliteOpenMode.ReadWrite,
                        "rwc" or "readwritecreate" => SqliteOpenMode.ReadWriteCreate,
                        "memory" => SqliteOpenMode.Memory,
                        _ => Invalid(SqliteOpenMode.ReadWriteCreate, $"mode '{value}' is not one of ro, rw, rwc, memory", problems),
                    };
                    break;
                case "cache":
                    builder.Cache = value.ToLowerInvariant() switch
                    {
                        "shared" => SqliteCacheMode.Shared,
                        "private" => SqliteCacheMode.Private,
                        _ => Invalid(SqliteCacheMode.Default, $"cache '{value}' is not shared or private", problems),
                    };
                    break;
                default:
                    builder[key] = value; // Microsoft.Data.Sqlite rejects unknown keywords with a clear message.
                    break;
            }
        }

        string target;
        if (memory)
        {
            // One private name per engine: pooled connections share it, other engines do not.
            builder.DataSource = "switchboard-" + request.DatabaseName + "-" + Guid.NewGuid().ToString("N");
            builder.Mode = SqliteOpenMode.Memory;
            builder.Cache = SqliteCacheMode.Shared;
            target = ":memory:";
        }
        else if (string.IsNullOrWhiteSpace(builder.DataSource))
        {
            problems.Add("the SQLite file path is empty");
            return null;
        }
        else
        {
            target = Path.GetFullPath(builder.DataSource);
            builder.DataSource = target;
        }

        var secrets = request.Password is null ? Array.Empty<string>() : [request.Password];
        return new ConnectionSettings(builder.ConnectionString, target, [], target, null, secrets);
    }

    public override DbDataSource CreateDataSource(DatabaseDefinition definition)
    {
        var dataSource = new SqliteDataSource(definition);
        _states.AddOrUpdate(definition, new EngineState
        {
            DeferredWriters = Option(definition, "transaction_mode")?.Equals("deferred", StringComparison.OrdinalIgnoreCase) == true,
            JournalMode = dataSource.IsMemory || Option(definition, "mode")?.ToLowerInvariant() is "ro" or "readonly"
                ? null
                : (Option(definition, "journal_mode") ?? Option(definition, "journalmode") ?? "wal").ToLowerInvariant(),
        });
        return dataSource;
    }

    public override async Task OpenAsync(DbConnection connection, bool async, CancellationToken cancellationToken)
    {
        try
        {
            await base.OpenAsync(connection, async, cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 14 && MissingFile(connection.ConnectionString) is { } path)
        {
            // SQLite says only "unable to open database file"; say which file, and why it was not created.
            throw new FileNotFoundException(
                $"The database file {path} does not exist, and this database is opened without creating it (mode=rw or ro; " +
                "a tenant's database is made by CreateAsync or `switchboard tenants create`).", path, e);
        }
    }

    private static string? MissingFile(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        return builder.Mode is SqliteOpenMode.ReadWrite or SqliteOpenMode.ReadOnly && !File.Exists(builder.DataSource)
            ? Path.GetFullPath(builder.DataSource)
            : null;
    }

    public override ValueTask OnConnectionOpenedAsync(DbConnection connection, DatabaseDefinition definition, bool async,
        CancellationToken cancellationToken)
    {
        // The journal mode belongs to the file: set it once per engine, on the first connection.
        if (!_states.TryGetValue(definition, out var state) || state.JournalMode is not { } mode || state.JournalModeSet)
        {
            return default;
        }

        state.JournalModeSet = true;
        return ExecuteAsync(connection, null, "PRAGMA journal_mode = " + mode, async, cancellationToken);
    }

    public override async ValueTask<DbTransaction> BeginTransactionAsync(DbConnection connection, DatabaseDefinition definition, IsolationLevel isolationLevel, bool isReadOnly,
        bool async, CancellationToken cancellationToken)
    {
        var sqlite = (SqliteConnection)connection;
        if (isReadOnly)
        {
            await ExecuteAsync(connection, null, "PRAGMA query_only = ON", async, cancellationToken).ConfigureAwait(false);
        }

        // SQLite has one isolation level (serializable); ReadUncommitted only matters with a shared cache.
        var level = isolationLevel == IsolationLevel.ReadUncommitted ? IsolationLevel.ReadUncommitted : IsolationLevel.Serializable;
        var deferred = isReadOnly || (_states.TryGetValue(definition, out var state) && state.DeferredWriters);
        return sqlite.BeginTransaction(level, deferred);
    }

    public override ValueTask ResetSessionStateAsync(DbConnection connection, bool isReadOnly, bool async, CancellationToken cancellationToken) =>
        isReadOnly ? ExecuteAsync(connection, null, "PRAGMA query_only = OFF", async, cancellationToken) : default;

    public override void ClearPool(DbConnection connection) => SqliteConnection.ClearPool((SqliteConnection)connection);

    // In this process: a busy or constrained COMMIT failed for certain (the transaction stays open, for the rollback); an
    // I/O error or a full disk while the commit frame was written may have left it whole in the WAL, to be replayed.
    public override bool CommitMayHaveLanded(Exception exception, bool connectionLost) =>
        exception is SqliteException { SqliteErrorCode: 10 or 13 } || exception.InnerException is SqliteException { SqliteErrorCode: 10 or 13 };

    public override DatabaseErrorKind Classify(Exception exception) => exception switch
    {
        SqliteException e => e.SqliteExtendedErrorCode switch
        {
            2067 or 1555 => DatabaseErrorKind.UniqueViolation, // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
            787 => DatabaseErrorKind.ForeignKeyViolation,
            1299 => DatabaseErrorKind.NotNullViolation,
            275 => DatabaseErrorKind.CheckViolation,
            _ => e.SqliteErrorCode switch
            {
                5 or 6 => DatabaseErrorKind.Timeout, // SQLITE_BUSY, SQLITE_LOCKED after the busy timeout
                8 => DatabaseErrorKind.ReadOnlyTransaction,
                23 => DatabaseErrorKind.PermissionDenied,
                1 when e.Message.Contains("syntax error", StringComparison.Ordinal) => DatabaseErrorKind.SyntaxError,
                1 when e.Message.Contains("no such", StringComparison.Ordinal) => DatabaseErrorKind.UndefinedObject,
                _ => DatabaseErrorKind.Other,
            },
        },
        // File operations of CREATE/DROP DATABASE: no connection to lose here.
        FileNotFoundException or DirectoryNotFoundException => DatabaseErrorKind.UndefinedObject,
        UnauthorizedAccessException => DatabaseErrorKind.PermissionDenied,
        IOException => DatabaseErrorKind.Other,
        _ => base.Classify(exception),
    };

    private static string? Option(DatabaseDefinition definition, string key) =>
        definition.ProviderOptions.LastOrDefault(o => o.Key.Equals(key, StringComparison.OrdinalIgnoreCase)).Value;

    private static bool? ParseBool(string value, string key, ICollection<string> problems) => value.ToLowerInvariant() switch
    {
        "true" or "1" or "on" or "yes" => true,
        "false" or "0" or "off" or "no" => false,
        _ => Invalid<bool?>(null, $"{key} '{value}' is not true or false", problems),
    };

    private static T Invalid<T>(T fallback, string problem, ICollection<string> problems)
    {
        problems.Add(problem);
        return fallback;
    }

    private sealed class EngineState
    {
        public bool DeferredWriters { get; init; }

        /// <summary>The journal mode to set on first open; null for memory and read-only databases.</summary>
        public string? JournalMode { get; init; }

        public volatile bool JournalModeSet;
    }
}
