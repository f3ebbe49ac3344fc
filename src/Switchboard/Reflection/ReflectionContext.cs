using System.Collections.Frozen;
using System.Data.Common;
using System.Globalization;
using System.Text;
using Switchboard.Internal;

namespace Switchboard.Reflection;

/// <summary>
/// What a dialect's reflection hook works with: an open connection (opened by the engine, so per-connection fixes such
/// as MariaDB's result charset are applied), the options, and a query helper that counts every query it sends and runs
/// synchronously or asynchronously as the caller asked. Every value goes in as a parameter; identifiers never go into
/// SQL text unless the dialect quotes them.
/// </summary>
public sealed class ReflectionContext
{
    private readonly IOBehavior _io;
    private readonly int _commandTimeout;
    private int _queryCount;

    internal ReflectionContext(DbConnection connection, DatabaseDefinition definition, string? serverVersion, ReflectionOptions options, IOBehavior io,
        CancellationToken cancellationToken)
    {
        Connection = connection;
        DatabaseName = definition.Name;
        ServerVersion = serverVersion;
        Options = options;
        _io = io;
        _commandTimeout = Math.Max(1, (int)definition.CommandTimeout.TotalSeconds);
        CancellationToken = cancellationToken;
    }

    /// <summary>The open connection to reflect through. Do not close it.</summary>
    public DbConnection Connection { get; }

    /// <summary>The configured name of the database.</summary>
    public string DatabaseName { get; }

    /// <summary>The server version the engine saw, if known.</summary>
    public string? ServerVersion { get; }

    public ReflectionOptions Options { get; }

    /// <summary>Whether the caller is asynchronous (I/O must then be asynchronous too).</summary>
    public bool IsAsync => _io == IOBehavior.Asynchronous;

    public CancellationToken CancellationToken { get; }

    /// <summary>How many queries this context has sent.</summary>
    public int QueryCount => Volatile.Read(ref _queryCount);

    /// <summary>Runs one query and reads every row. Parameter names are given without a prefix and used as <c>@name</c> in the SQL.</summary>
    public async ValueTask<IReadOnlyList<ReflectionRow>> QueryAsync(string sql, IReadOnlyDictionary<string, object?>? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var command = Connection.CreateCommand();
        DbDataReader? reader = null;
        try
        {
            command.CommandText = sql;
            command.CommandTimeout = _commandTimeout;
            foreach (var (name, value) in parameters ?? FrozenDictionary<string, object?>.Empty)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = name;
                parameter.Value = value ?? DBNull.Value;
                command.Parameters.Add(parameter);
            }

            Interlocked.Increment(ref _queryCount);
            reader = _io == IOBehavior.Synchronous
                ? command.ExecuteReader()
                : await command.ExecuteReaderAsync(CancellationToken).ConfigureAwait(false);
            var names = Enumerable.Range(0, reader.FieldCount)
                .Select(i => (Name: reader.GetName(i), Index: i))
                .DistinctBy(c => c.Name, StringComparer.OrdinalIgnoreCase)
                .ToFrozenDictionary(c => c.Name, c => c.Index, StringComparer.OrdinalIgnoreCase);
            var rows = new List<ReflectionRow>();
            while (_io == IOBehavior.Synchronous ? reader.Read() : await reader.ReadAsync(CancellationToken).ConfigureAwait(false))
            {
                var values = new object?[reader.FieldCount];
                reader.GetValues(values!);
                for (var i = 0; i < values.Length; i++)
                {
                    if (values[i] is DBNull)
                    {
                        values[i] = null;
                    }
                }

                rows.Add(new ReflectionRow(names, values));
            }

            return rows;
        }
        finally
        {
            // Dispose the way the caller runs: a synchronous caller must not wait on a driver's asynchronous dispose.
            if (_io == IOBehavior.Synchronous)
            {
                reader?.Dispose();
                command.Dispose();
            }
            else
            {
                if (reader is not null)
                {
                    await reader.DisposeAsync().ConfigureAwait(false);
                }

                await command.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}

/// <summary>
/// One row of a reflection query, with conversions that smooth over driver differences (MySQL's unsigned integers and
/// YES/NO strings, PostgreSQL's <c>"char"</c> and arrays). Column names are case-insensitive.
/// </summary>
public sealed class ReflectionRow
{
    private readonly FrozenDictionary<string, int> _names;
    private readonly object?[] _values;

    internal ReflectionRow(FrozenDictionary<string, int> names, object?[] values)
    {
        _names = names;
        _values = values;
    }

    /// <summary>The raw value (null for SQL NULL).</summary>
    public object? this[string column] => _names.TryGetValue(column, out var i)
        ? _values[i]
        : throw new ArgumentException($"the reflection query returned no column '{column}' (it has: {string.Join(", ", _names.Keys)})", nameof(column));

    public bool IsNull(string column) => this[column] is null;

    /// <summary>A text value; throws when NULL.</summary>
    public string GetString(string column) => GetStringOrNull(column) ?? throw new InvalidOperationException($"column '{column}' is NULL");

    public string? GetStringOrNull(string column) => this[column] switch
    {
        null => null,
        string s => s,
        byte[] b => Encoding.UTF8.GetString(b),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var v => v.ToString(),
    };

    public long GetInt64(string column) => GetInt64OrNull(column) ?? throw new InvalidOperationException($"column '{column}' is NULL");

    public long? GetInt64OrNull(string column) => this[column] switch
    {
        null => null,
        string s => long.Parse(s, CultureInfo.InvariantCulture),
        byte[] b => long.Parse(Encoding.UTF8.GetString(b), CultureInfo.InvariantCulture),
        var v => Convert.ToInt64(v, CultureInfo.InvariantCulture),
    };

    public int GetInt32(string column) => checked((int)GetInt64(column));

    public int? GetInt32OrNull(string column) => GetInt64OrNull(column) is { } v ? checked((int)v) : null;

    /// <summary>A truth value from a boolean, a number (non-zero is true) or text (YES/NO, t/f, true/false, 1/0).</summary>
    public bool GetBoolean(string column) => this[column] switch
    {
        null => false,
        bool b => b,
        string s => s.Trim().ToUpperInvariant() is "YES" or "Y" or "T" or "TRUE" or "1" or "ON",
        char c => c is 't' or 'T' or 'y' or 'Y' or '1',
        var v => Convert.ToInt64(v, CultureInfo.InvariantCulture) != 0,
    };

    /// <summary>A list of texts from an array value; an empty list for NULL.</summary>
    public IReadOnlyList<string> GetStrings(string column) => this[column] switch
    {
        null => [],
        string[] a => a,
        System.Collections.IEnumerable e and not string => e.Cast<object?>().Select(o => o?.ToString() ?? "").ToArray(),
        var v => throw new InvalidOperationException($"column '{column}' is a {v.GetType().Name}, not an array"),
    };

    /// <summary>A list of numbers from an array value; an empty list for NULL.</summary>
    public IReadOnlyList<long> GetInt64s(string column) => this[column] switch
    {
        null => [],
        System.Collections.IEnumerable e and not string => e.Cast<object>().Select(o => Convert.ToInt64(o, CultureInfo.InvariantCulture)).ToArray(),
        var v => throw new InvalidOperationException($"column '{column}' is a {v.GetType().Name}, not an array"),
    };
}
