using System.Diagnostics.CodeAnalysis;
using Switchboard.Internal;

namespace Switchboard.Dialects;

/// <summary>
/// Finds the dialect for a URL scheme or provider name. Dialects added explicitly win; otherwise the three shipped
/// dialects are found by type name (as SQLAlchemy resolves <c>backend+driver</c> names), so a project only needs to
/// reference <c>Switchboard.PostgreSql</c> to use <c>postgresql://</c> URLs.
/// </summary>
public sealed class DialectRegistry
{
    private static readonly (string[] Aliases, string TypeName, string Package)[] Shipped =
    [
        (["postgresql", "postgres", "pgsql", "npgsql"], "Switchboard.PostgreSql.PostgreSqlDialect, Switchboard.PostgreSql", "Switchboard.PostgreSql"),
        (["mysql", "mariadb"], "Switchboard.MySql.MySqlDialect, Switchboard.MySql", "Switchboard.MySql"),
        (["sqlite", "sqlite3"], "Switchboard.Sqlite.SqliteDialect, Switchboard.Sqlite", "Switchboard.Sqlite"),
    ];

    private readonly List<Dialect> _explicit = [];
    private readonly Dictionary<string, Dialect> _loaded = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _lock = new();

    /// <summary>Adds a dialect; it takes precedence for each of its aliases.</summary>
    public DialectRegistry Add(Dialect dialect)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        lock (_lock)
        {
            _explicit.Insert(0, dialect);
        }

        return this;
    }

    /// <summary>Every alias that can be resolved in principle (shipped and added).</summary>
    public IReadOnlyList<string> KnownAliases =>
        _explicit.SelectMany(d => d.Aliases).Concat(Shipped.SelectMany(s => s.Aliases)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>Resolves a scheme or provider name; <paramref name="problem"/> explains a failure.</summary>
    public bool TryResolve(string alias, [NotNullWhen(true)] out Dialect? dialect, [NotNullWhen(false)] out string? problem)
    {
        lock (_lock)
        {
            dialect = _explicit.FirstOrDefault(d => d.Aliases.Contains(alias, StringComparer.OrdinalIgnoreCase));
            if (dialect is not null || _loaded.TryGetValue(alias, out dialect))
            {
                problem = null;
                return true;
            }

            foreach (var (aliases, typeName, package) in Shipped)
            {
                if (!aliases.Contains(alias, StringComparer.OrdinalIgnoreCase))
                {
                    continue;
                }

                var type = Type.GetType(typeName, throwOnError: false);
                if (type is null)
                {
                    problem = $"the '{alias}' dialect needs the {package} package: add a reference to it";
                    return false;
                }

                try
                {
                    dialect = (Dialect)Activator.CreateInstance(type)!;
                }
                catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
                {
                    problem = $"the '{alias}' dialect could not start: {e.InnerException.Message}";
                    return false;
                }

                foreach (var a in aliases)
                {
                    _loaded[a] = dialect;
                }

                problem = null;
                return true;
            }

            var suggestion = Spelling.Closest(alias, KnownAliases);
            problem = suggestion is null
                ? $"unknown database kind '{alias}' (known: {string.Join(", ", KnownAliases)})"
                : $"unknown database kind '{alias}' (did you mean '{suggestion}'?)";
            dialect = null;
            return false;
        }
    }
}
