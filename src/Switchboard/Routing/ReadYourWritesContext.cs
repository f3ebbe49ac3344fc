using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Switchboard.Dialects;

namespace Switchboard;

/// <summary>
/// A logical context (a request, a user's flow) whose reads must see its own writes. After a read-write session in the
/// context commits on a replicated database, the commit's log position is recorded (one extra query, only for sessions in
/// such a context); a later read-only session in the context uses a replica only if it has replayed past that position,
/// otherwise it waits for one (<c>Routing:ReadYourWrites:Wait</c>) or reads on the primary. No fixed timer. Reads
/// outside the context, and reads of other databases, are routed as usual.
/// <code>
/// using (ReadYourWritesContext.Begin())                        // ambient: flows with async code
/// {
///     … write, commit …
///     … read: sees the write …
/// }
/// var ryw = new ReadYourWritesContext(token);                  // explicit: pass it in SessionOptions.ReadYourWrites
/// </code>
/// Carry <see cref="Token"/> (a short string) to a later request to keep the guarantee there. Thread-safe.
/// </summary>
public sealed class ReadYourWritesContext : IDisposable
{
    private static readonly AsyncLocal<ReadYourWritesContext?> CurrentContext = new();

    private readonly Lock _lock = new();
    private readonly Dictionary<string, ReplicationPosition> _positions = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _unparsed = new(StringComparer.OrdinalIgnoreCase);
    private ReadYourWritesContext? _outer;
    private bool _active;

    /// <summary>A context that is not ambient: pass it in <see cref="SessionOptions.ReadYourWrites"/>.</summary>
    /// <param name="token">Positions carried from an earlier context, or null to start empty.</param>
    public ReadYourWritesContext(ConsistencyToken? token = null)
    {
        if (token is not null)
        {
            foreach (var (database, position) in token.Positions)
            {
                _unparsed[database] = position;
            }
        }
    }

    /// <summary>The ambient context of the current async flow, or null.</summary>
    public static ReadYourWritesContext? Current => CurrentContext.Value;

    /// <summary>
    /// Starts an ambient context for the current async flow; disposing it restores the one around it. Inside another
    /// context it starts with that one's positions and records its commits there too, so neither loses a guarantee.
    /// </summary>
    public static ReadYourWritesContext Begin(ConsistencyToken? token = null)
    {
        var outer = CurrentContext.Value;
        var context = new ReadYourWritesContext(token) { _outer = outer, _active = true };
        if (outer is not null)
        {
            foreach (var (database, position) in outer.Token.Positions)
            {
                context._unparsed.TryAdd(database, position);
            }
        }

        CurrentContext.Value = context;
        return context;
    }

    /// <summary>The positions recorded so far, as a token that can be carried and passed back to the constructor.</summary>
    public ConsistencyToken Token
    {
        get
        {
            lock (_lock)
            {
                var all = new Dictionary<string, string>(_unparsed, StringComparer.OrdinalIgnoreCase);
                foreach (var (database, position) in _positions)
                {
                    all[database] = position.ToString();
                }

                return new ConsistencyToken(all);
            }
        }
    }

    /// <summary>Records a commit: later reads of <paramref name="database"/> must see at least <paramref name="position"/>.</summary>
    internal void Record(string database, ReplicationPosition position)
    {
        lock (_lock)
        {
            _positions[database] = _positions.TryGetValue(database, out var known) ? known.Merge(position) : position;
            _unparsed.Remove(database);
        }

        _outer?.Record(database, position);
    }

    /// <summary>What a read of <paramref name="database"/> must see, or null when nothing was written there in this context.</summary>
    internal ReplicationPosition? PositionFor(string database, Dialect dialect)
    {
        lock (_lock)
        {
            if (_positions.TryGetValue(database, out var position))
            {
                return position;
            }

            if (!_unparsed.Remove(database, out var text))
            {
                return null;
            }

            // A token from outside that this dialect cannot read (tampered, or another database kind): read on the primary.
            position = dialect.TryParsePosition(text, out var parsed) ? parsed : ReplicationPosition.Unknown;
            _positions[database] = position;
            return position;
        }
    }

    /// <summary>Ends an ambient context (restoring the one around it); does nothing for an explicit one.</summary>
    public void Dispose()
    {
        if (_active)
        {
            _active = false;
            CurrentContext.Value = _outer;
        }
    }

    public override string ToString() => Token.ToString();
}

/// <summary>
/// The log positions a <see cref="ReadYourWritesContext"/> has recorded, per database: immutable, and safe to carry in a
/// URL, header or cookie (<c>orders=0%2F3000060&amp;billing=0-1-57</c>). Holds no data and no secret.
/// </summary>
public sealed class ConsistencyToken : IEquatable<ConsistencyToken>
{
    internal ConsistencyToken(IDictionary<string, string> positions)
    {
        Positions = positions.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>A token with no positions.</summary>
    public static ConsistencyToken Empty { get; } = new(new Dictionary<string, string>());

    /// <summary>Each database's position, in its dialect's text form.</summary>
    public IReadOnlyDictionary<string, string> Positions { get; }

    public static ConsistencyToken Parse(string text) =>
        TryParse(text, out var token) ? token : throw new FormatException("Not a consistency token (expected name=position&name=position…).");

    public static bool TryParse(string? text, [NotNullWhen(true)] out ConsistencyToken? token)
    {
        token = null;
        if (text is null)
        {
            return false;
        }

        var positions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in text.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                return false;
            }

            string name, position;
            try
            {
                name = Uri.UnescapeDataString(part[..eq]);
                position = Uri.UnescapeDataString(part[(eq + 1)..]);
            }
            catch (UriFormatException)
            {
                return false;
            }

            if (!positions.TryAdd(name, position))
            {
                return false;
            }
        }

        token = new ConsistencyToken(positions);
        return true;
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var (name, position) in Positions.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase))
        {
            sb.Append(sb.Length == 0 ? "" : "&").Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(position));
        }

        return sb.ToString();
    }

    public bool Equals(ConsistencyToken? other) => other is not null && ToString() == other.ToString();

    public override bool Equals(object? obj) => Equals(obj as ConsistencyToken);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());
}
