using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Switchboard.Reflection;

/// <summary>
/// Does one comparison. Pairing: schemas, tables, views, columns, enums and domains by name (per
/// <see cref="NameMatching"/>); constraints by what they do, then by name; indexes by name, then by what they do.
/// Across dialects, comparisons that only make sense within one dialect (declared types, comments, collations, view
/// text, constraint names) are relaxed as documented in docs/reflection.md.
/// </summary>
internal sealed partial class SchemaComparer
{
    private readonly DatabaseSchema _left;
    private readonly DatabaseSchema _right;
    private readonly DiffRules _rules;
    private readonly List<SchemaDifference> _differences = [];

    public SchemaComparer(DatabaseSchema left, DatabaseSchema right, DiffOptions options)
    {
        _left = left;
        _right = right;
        var sameDialect = string.Equals(left.Dialect, right.Dialect, StringComparison.OrdinalIgnoreCase);
        var types = options.Types switch
        {
            TypeComparison.Auto => sameDialect ? TypeComparison.Exact : TypeComparison.Family,
            var t => t,
        };
        _rules = new DiffRules(types, options.Names, options.CompareConstraintNames ?? sameDialect, sameDialect);
    }

    private bool SameDialect => _rules.SameDialect;

    public SchemaDiff Run()
    {
        var pairs = PairSchemas();
        return new SchemaDiff
        {
            Left = new DiffSide(_left.Database, _left.Dialect, _left.ServerVersion),
            Right = new DiffSide(_right.Database, _right.Dialect, _right.ServerVersion),
            Rules = _rules,
            SchemaPairs = pairs,
            Differences = _differences,
        };
    }

    private List<SchemaPair> PairSchemas()
    {
        var result = new List<SchemaPair>();
        List<(SchemaInfo L, SchemaInfo R)> pairs;
        List<SchemaInfo> leftOnly, rightOnly;
        if (_left.Schemas.Count == 1 && _right.Schemas.Count == 1)
        {
            // One schema each (the usual case across dialects: main, public, the MySQL database): compare them.
            (pairs, leftOnly, rightOnly) = ([(_left.Schemas[0], _right.Schemas[0])], [], []);
        }
        else
        {
            var match = Match(_left.Schemas, _right.Schemas, s => NameKey(s.Name));
            pairs = [.. match.Pairs.Select(p => (p.Left, p.Right))];
            leftOnly = match.LeftOnly;
            rightOnly = match.RightOnly;

            // Default schemas under different names (public and main) stand for each other.
            if (leftOnly.FirstOrDefault(s => s.Name == _left.DefaultSchema) is { } l && rightOnly.FirstOrDefault(s => s.Name == _right.DefaultSchema) is { } r)
            {
                pairs.Add((l, r));
                leftOnly.Remove(l);
                rightOnly.Remove(r);
            }
        }

        foreach (var s in leftOnly)
        {
            OnlyIn(DifferenceKind.OnlyInLeft, SchemaObjectKind.Schema, s.Name, null, s.Name, $"{s.Tables.Count} table(s), {s.Views.Count} view(s)");
        }

        foreach (var s in rightOnly)
        {
            OnlyIn(DifferenceKind.OnlyInRight, SchemaObjectKind.Schema, s.Name, null, s.Name, $"{s.Tables.Count} table(s), {s.Views.Count} view(s)");
        }

        foreach (var (l, r) in pairs.OrderBy(p => p.L.Name, StringComparer.Ordinal))
        {
            result.Add(new SchemaPair(l.Name, r.Name));
            CompareSchema(l, r);
        }

        return result;
    }

    private void CompareSchema(SchemaInfo left, SchemaInfo right)
    {
        var schema = left.Name;
        var tables = Match(left.Tables, right.Tables, t => NameKey(t.Name));
        var views = Match(left.Views, right.Views, v => NameKey(v.Name));
        foreach (var t in tables.LeftOnly)
        {
            OnlyIn(DifferenceKind.OnlyInLeft, SchemaObjectKind.Table, schema, t.Name, t.Name, $"{t.Columns.Count} column(s)");
        }

        foreach (var t in tables.RightOnly)
        {
            OnlyIn(DifferenceKind.OnlyInRight, SchemaObjectKind.Table, schema, t.Name, t.Name, $"{t.Columns.Count} column(s)");
        }

        foreach (var (l, r, _) in tables.Pairs)
        {
            CompareTable(schema, l, r);
        }

        foreach (var v in views.LeftOnly)
        {
            OnlyIn(DifferenceKind.OnlyInLeft, SchemaObjectKind.View, schema, v.Name, v.Name, v.Materialized ? "materialized view" : "view");
        }

        foreach (var v in views.RightOnly)
        {
            OnlyIn(DifferenceKind.OnlyInRight, SchemaObjectKind.View, schema, v.Name, v.Name, v.Materialized ? "materialized view" : "view");
        }

        foreach (var (l, r, _) in views.Pairs)
        {
            CompareView(schema, l, r);
        }

        var enums = Match(left.Enums, right.Enums, e => NameKey(e.Name));
        Report(SchemaObjectKind.Enum, schema, null, enums, e => e.Name, e => Values(e.Values), (l, r) =>
            Changed(SchemaObjectKind.Enum, schema, null, l.Name, "values", Values(l.Values), Values(r.Values)));

        var domains = Match(left.Domains, right.Domains, d => NameKey(d.Name));
        Report(SchemaObjectKind.Domain, schema, null, domains, d => d.Name, d => d.Type, (l, r) => CompareDomain(schema, l, r));
    }

    private void CompareTable(string schema, TableInfo left, TableInfo right)
    {
        var table = left.Name;
        var columns = Match(left.Columns, right.Columns, c => NameKey(c.Name));
        Report(SchemaObjectKind.Column, schema, table, columns, c => c.Name, c => c.Type, (l, r) => CompareColumn(schema, table, l, r));
        if (SameDialect)
        {
            Changed(SchemaObjectKind.Table, schema, table, table, "comment", left.Comment, right.Comment);
        }

        ComparePrimaryKey(schema, table, left.PrimaryKey, right.PrimaryKey);
        CompareForeignKeys(schema, table, left.ForeignKeys, right.ForeignKeys);

        // Across dialects a unique index and a unique constraint do the same job (MySQL has only the former): fold them.
        var leftIndexes = left.Indexes.ToList();
        var rightIndexes = right.Indexes.ToList();
        var leftUnique = left.UniqueConstraints.ToList();
        var rightUnique = right.UniqueConstraints.ToList();
        if (!SameDialect)
        {
            FoldUniqueIndexes(leftIndexes, leftUnique);
            FoldUniqueIndexes(rightIndexes, rightUnique);
        }

        CompareUniqueConstraints(schema, table, leftUnique, rightUnique);
        CompareChecks(SchemaObjectKind.CheckConstraint, schema, table, left.CheckConstraints, right.CheckConstraints);
        CompareIndexes(schema, table, leftIndexes, rightIndexes);
    }

    private void CompareColumn(string schema, string table, ColumnInfo left, ColumnInfo right)
    {
        var name = left.Name;
        var (lt, rt) = (TypeText(left.Type, left.TypeFamily, left.Length, left.Precision, left.Scale), TypeText(right.Type, right.TypeFamily, right.Length, right.Precision, right.Scale));
        if (!string.Equals(lt, rt, StringComparison.Ordinal))
        {
            var message = _rules.Types == TypeComparison.Family ? $"type {lt} ({left.Type}) → {rt} ({right.Type})" : $"type {left.Type} → {right.Type}";
            Add(DifferenceKind.Changed, SchemaObjectKind.Column, schema, table, name, "type", lt, rt, Describe(SchemaObjectKind.Column, table, name) + ": " + message);
        }

        Changed(SchemaObjectKind.Column, schema, table, name, "nullable", Bool(left.Nullable), Bool(right.Nullable));
        Changed(SchemaObjectKind.Column, schema, table, name, "generatesValues", Generation(left), Generation(right));
        Changed(SchemaObjectKind.Column, schema, table, name, "generated", Generated(left.Generated), Generated(right.Generated),
            Generated(left.Generated, normalize: true), Generated(right.Generated, normalize: true));

        // A default is meaningless next to generation, and a serial's nextval(…) default is how it auto-increments.
        if (left.Generated is null && right.Generated is null && left.Identity is null && right.Identity is null && !left.AutoIncrement && !right.AutoIncrement)
        {
            Changed(SchemaObjectKind.Column, schema, table, name, "default", left.Default, right.Default,
                NormalizeDefault(left.Default, left.TypeFamily), NormalizeDefault(right.Default, right.TypeFamily));
        }

        Changed(SchemaObjectKind.Column, schema, table, name, "onUpdate", left.OnUpdate, right.OnUpdate,
            NormalizeDefault(left.OnUpdate, left.TypeFamily), NormalizeDefault(right.OnUpdate, right.TypeFamily));

        if (SameDialect)
        {
            Changed(SchemaObjectKind.Column, schema, table, name, "collation", left.Collation, right.Collation);
            Changed(SchemaObjectKind.Column, schema, table, name, "comment", left.Comment, right.Comment);
        }
    }

    private void CompareView(string schema, ViewInfo left, ViewInfo right)
    {
        var view = left.Name;
        Changed(SchemaObjectKind.View, schema, view, view, "materialized", Bool(left.Materialized), Bool(right.Materialized));
        if (SameDialect)
        {
            Changed(SchemaObjectKind.View, schema, view, view, "definition", left.Definition, right.Definition,
                Whitespace(left.Definition), Whitespace(right.Definition));
            Changed(SchemaObjectKind.View, schema, view, view, "comment", left.Comment, right.Comment);
        }

        // View columns: presence and type only (servers disagree on the nullability they infer for views).
        var columns = Match(left.Columns, right.Columns, c => NameKey(c.Name));
        Report(SchemaObjectKind.Column, schema, view, columns, c => c.Name, c => c.Type, (l, r) =>
        {
            var (lt, rt) = (TypeText(l.Type, l.TypeFamily, l.Length, l.Precision, l.Scale), TypeText(r.Type, r.TypeFamily, r.Length, r.Precision, r.Scale));
            Changed(SchemaObjectKind.Column, schema, view, l.Name, "type", lt, rt);
        });
    }

    private void CompareDomain(string schema, DomainInfo left, DomainInfo right)
    {
        var name = left.Name;
        Changed(SchemaObjectKind.Domain, schema, null, name, "type",
            TypeText(left.Type, left.TypeFamily, left.Length, left.Precision, left.Scale), TypeText(right.Type, right.TypeFamily, right.Length, right.Precision, right.Scale));
        Changed(SchemaObjectKind.Domain, schema, null, name, "nullable", Bool(left.Nullable), Bool(right.Nullable));
        Changed(SchemaObjectKind.Domain, schema, null, name, "default", left.Default, right.Default,
            NormalizeDefault(left.Default, left.TypeFamily), NormalizeDefault(right.Default, right.TypeFamily));
        Changed(SchemaObjectKind.Domain, schema, null, name, "checks",
            string.Join("; ", left.CheckConstraints.Select(c => c.Expression)), string.Join("; ", right.CheckConstraints.Select(c => c.Expression)),
            string.Join(";", left.CheckConstraints.Select(c => NormalizeExpression(c.Expression)).Order(StringComparer.Ordinal)),
            string.Join(";", right.CheckConstraints.Select(c => NormalizeExpression(c.Expression)).Order(StringComparer.Ordinal)));
    }

    private void ComparePrimaryKey(string schema, string table, PrimaryKeyInfo? left, PrimaryKeyInfo? right)
    {
        if (left is null && right is null)
        {
            return;
        }

        if (left is null || right is null)
        {
            var pk = (left ?? right)!;
            OnlyIn(left is null ? DifferenceKind.OnlyInRight : DifferenceKind.OnlyInLeft, SchemaObjectKind.PrimaryKey, schema, table,
                pk.Name ?? Columns(pk.Columns), Columns(pk.Columns));
            return;
        }

        var name = left.Name ?? right.Name ?? "primary key";
        Changed(SchemaObjectKind.PrimaryKey, schema, table, name, "columns", Columns(left.Columns), Columns(right.Columns),
            ColumnKeys(left.Columns), ColumnKeys(right.Columns));
        CompareConstraintName(SchemaObjectKind.PrimaryKey, schema, table, left.Name, right.Name);
    }

    private void CompareForeignKeys(string schema, string table, IReadOnlyList<ForeignKeyInfo> left, IReadOnlyList<ForeignKeyInfo> right)
    {
        var match = Match(left, right, f => ForeignKeySignature(schema, f), f => ConstraintNameKey(f.Name));
        Report(SchemaObjectKind.ForeignKey, schema, table, match, ForeignKeyLabel, ForeignKeyText, (l, r) => { });
        foreach (var (l, r, stage) in match.Pairs)
        {
            var name = ForeignKeyLabel(l);
            if (stage == 0)
            {
                CompareConstraintName(SchemaObjectKind.ForeignKey, schema, table, l.Name, r.Name);
            }
            else
            {
                Changed(SchemaObjectKind.ForeignKey, schema, table, name, "definition", ForeignKeyText(l), ForeignKeyText(r));
            }

            Changed(SchemaObjectKind.ForeignKey, schema, table, name, "onDelete", l.OnDelete, r.OnDelete, RuleKey(l.OnDelete), RuleKey(r.OnDelete));
            Changed(SchemaObjectKind.ForeignKey, schema, table, name, "onUpdate", l.OnUpdate, r.OnUpdate, RuleKey(l.OnUpdate), RuleKey(r.OnUpdate));
            Changed(SchemaObjectKind.ForeignKey, schema, table, name, "deferrable", Bool(l.Deferrable), Bool(r.Deferrable));
            Changed(SchemaObjectKind.ForeignKey, schema, table, name, "initiallyDeferred", Bool(l.InitiallyDeferred), Bool(r.InitiallyDeferred));
        }
    }

    private void CompareUniqueConstraints(string schema, string table, List<UniqueConstraintInfo> left, List<UniqueConstraintInfo> right)
    {
        var match = Match(left, right, u => ColumnKeys(u.Columns), u => ConstraintNameKey(u.Name));
        Report(SchemaObjectKind.UniqueConstraint, schema, table, match, u => u.Name ?? Columns(u.Columns), u => Columns(u.Columns), (l, r) => { });
        foreach (var (l, r, stage) in match.Pairs)
        {
            if (stage == 0)
            {
                CompareConstraintName(SchemaObjectKind.UniqueConstraint, schema, table, l.Name, r.Name);
            }
            else
            {
                Changed(SchemaObjectKind.UniqueConstraint, schema, table, l.Name ?? Columns(l.Columns), "columns", Columns(l.Columns), Columns(r.Columns));
            }
        }
    }

    private void CompareChecks(SchemaObjectKind kind, string schema, string? table, IReadOnlyList<CheckConstraintInfo> left, IReadOnlyList<CheckConstraintInfo> right)
    {
        var match = Match(left, right, c => NormalizeExpression(c.Expression), c => ConstraintNameKey(c.Name));
        Report(kind, schema, table, match, c => c.Name ?? c.Expression, c => c.Expression, (l, r) => { });
        foreach (var (l, r, stage) in match.Pairs)
        {
            if (stage == 0)
            {
                CompareConstraintName(kind, schema, table, l.Name, r.Name);
            }
            else
            {
                Changed(kind, schema, table, l.Name ?? l.Expression, "expression", l.Expression, r.Expression);
            }
        }
    }

    private void CompareIndexes(string schema, string table, List<IndexInfo> left, List<IndexInfo> right)
    {
        // Index names are chosen by people more often than constraint names: pair by name first (when names count).
        var match = _rules.ConstraintNames
            ? Match(left, right, i => ConstraintNameKey(i.Name), IndexSignature)
            : Match(left, right, IndexSignature);
        Report(SchemaObjectKind.Index, schema, table, match, i => i.Name, IndexText, (l, r) => { });
        foreach (var (l, r, stage) in match.Pairs)
        {
            var byName = _rules.ConstraintNames && stage == 0;
            if (!byName)
            {
                CompareConstraintName(SchemaObjectKind.Index, schema, table, l.Name, r.Name);
                continue; // paired by signature: everything but the name is equal
            }

            Changed(SchemaObjectKind.Index, schema, table, l.Name, "unique", Bool(l.Unique), Bool(r.Unique));
            Changed(SchemaObjectKind.Index, schema, table, l.Name, "columns", IndexColumns(l), IndexColumns(r), IndexColumnKeys(l), IndexColumnKeys(r));
            Changed(SchemaObjectKind.Index, schema, table, l.Name, "predicate", l.Predicate, r.Predicate,
                l.Predicate is null ? null : NormalizeExpression(l.Predicate), r.Predicate is null ? null : NormalizeExpression(r.Predicate));
        }
    }

    private static void FoldUniqueIndexes(List<IndexInfo> indexes, List<UniqueConstraintInfo> uniques)
    {
        foreach (var index in indexes.Where(i => i.Unique && i.Predicate is null && i.Columns.All(c => c.Name is not null && !c.Descending)).ToList())
        {
            var columns = index.Columns.Select(c => c.Name!).ToList();
            if (!uniques.Any(u => u.Columns.SequenceEqual(columns, StringComparer.Ordinal)))
            {
                uniques.Add(new UniqueConstraintInfo(index.Name, columns));
            }

            indexes.Remove(index);
        }
    }

    private void CompareConstraintName(SchemaObjectKind kind, string schema, string? table, string? left, string? right)
    {
        if (_rules.ConstraintNames && left is not null && right is not null && NameKey(left) != NameKey(right))
        {
            Add(DifferenceKind.Changed, kind, schema, table, left, "name", left, right,
                $"{Describe(kind, table, left)}: name {left} → {right}");
        }
    }

    // ---- Texts and keys -------------------------------------------------------------------------------------------

    private string NameKey(string name) => _rules.Names switch
    {
        NameMatching.IgnoreCase => name.ToLowerInvariant(),
        NameMatching.IgnoreStyle => StyleSeparators().Replace(name.ToLowerInvariant(), ""),
        _ => name,
    };

    private string? ConstraintNameKey(string? name) => name is null ? null : NameKey(name);

    private string ColumnKeys(IEnumerable<string> columns) => string.Join('\0', columns.Select(NameKey));

    private string TypeText(string type, TypeFamily family, int? length, int? precision, int? scale)
    {
        if (_rules.Types == TypeComparison.Exact)
        {
            return TypeSpacing().Replace(Whitespace(type)!.ToLowerInvariant(), "$1");
        }

        var name = family.ToString().ToLowerInvariant();
        return family switch
        {
            TypeFamily.String or TypeFamily.Binary when length is { } l => $"{name}({l})",
            TypeFamily.Decimal when precision is { } p => $"{name}({p},{scale ?? 0})",
            _ => name,
        };
    }

    private string Generation(ColumnInfo column)
    {
        if (!SameDialect)
        {
            return Bool(column.AutoIncrement || column.Identity is not null);
        }

        return column.Identity is { } identity
            ? $"identity {(identity.Always ? "always" : "by default")} (start {Number(identity.Start)}, increment {Number(identity.Increment)})"
            : column.AutoIncrement ? "auto-increment" : "no";

        static string Number(long? n) => n?.ToString(CultureInfo.InvariantCulture) ?? "?";
    }

    private static string? Generated(GeneratedColumnInfo? generated, bool normalize = false) => generated is null
        ? null
        : (generated.Stored ? "stored " : "virtual ") + (normalize ? NormalizeExpression(generated.Expression) : generated.Expression);

    private string? ForeignKeySignature(string schema, ForeignKeyInfo fk) =>
        ColumnKeys(fk.Columns) + "→" + (fk.ReferencedSchema is { } s && s != schema && SameDialect ? NameKey(s) + "." : "")
        + NameKey(fk.ReferencedTable) + "(" + ColumnKeys(fk.ReferencedColumns) + ")";

    private static string ForeignKeyLabel(ForeignKeyInfo fk) => fk.Name ?? ForeignKeyText(fk);

    private static string ForeignKeyText(ForeignKeyInfo fk) =>
        $"{Columns(fk.Columns)} → {fk.ReferencedTable} {Columns(fk.ReferencedColumns)}";

    /// <summary>MySQL treats RESTRICT and NO ACTION alike; across dialects they are the same answer.</summary>
    private string RuleKey(string rule)
    {
        var upper = rule.ToUpperInvariant();
        return !SameDialect && upper == "RESTRICT" ? "NO ACTION" : upper;
    }

    private string IndexSignature(IndexInfo index) =>
        (index.Unique ? "unique " : "") + IndexColumnKeys(index) + (index.Predicate is { } p ? " where " + NormalizeExpression(p) : "");

    private string IndexColumnKeys(IndexInfo index) => string.Join('\0', index.Columns.Select(c =>
        (c.Name is { } n ? NameKey(n) : "expr:" + NormalizeExpression(c.Expression ?? "")) + (c.Descending ? " desc" : "")));

    private static string IndexColumns(IndexInfo index) => "(" + string.Join(", ", index.Columns) + ")";

    private static string IndexText(IndexInfo index) =>
        (index.Unique ? "unique " : "") + IndexColumns(index) + (index.Predicate is { } p ? " where " + p : "");

    private static string Columns(IEnumerable<string> columns) => "(" + string.Join(", ", columns) + ")";

    private static string Values(IEnumerable<string> values) => string.Join(", ", values.Select(v => "'" + v + "'"));

    private static string Bool(bool value) => value ? "yes" : "no";

    private static string? Whitespace(string? text) => text is null ? null : Spaces().Replace(text.Trim(), " ");

    /// <summary>
    /// A rough canonical form of an expression for comparing across dialects: lower case outside string literals,
    /// no identifier quotes, no PostgreSQL casts, no whitespace or parentheses. Good for <c>price &gt; 0</c>-style checks
    /// and defaults; servers that rewrite expressions further (PostgreSQL's <c>= ANY (ARRAY[…])</c>) still differ.
    /// </summary>
    internal static string NormalizeExpression(string expression)
    {
        var builder = new StringBuilder(expression.Length);
        var inString = false;
        foreach (var c in expression)
        {
            if (c == '\'')
            {
                inString = !inString;
                builder.Append(c);
            }
            else if (inString)
            {
                builder.Append(c);
            }
            else if (c is not ('"' or '`' or '[' or ']'))
            {
                builder.Append(char.ToLowerInvariant(c));
            }
        }

        var text = PgCast().Replace(builder.ToString(), "");
        return NoiseOutsideStrings().Replace(text, m => m.Value.StartsWith('\'') ? m.Value : "");
    }

    /// <summary>
    /// Defaults compared across dialects: NULL is no default, casts and quotes go, the current-time spellings are one,
    /// booleans and numbers compare by value.
    /// </summary>
    internal static string? NormalizeDefault(string? value, TypeFamily family)
    {
        if (value is null || value.Trim().Equals("NULL", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var text = NormalizeExpression(value);
        // Parentheses are gone by now: now() is "now", datetime('now') is "datetime'now'".
        if (text is "now" or "current_timestamp" or "localtimestamp" or "datetime'now'" or "getdate" or "transaction_timestamp" or "statement_timestamp")
        {
            return "current_timestamp";
        }

        var unquoted = text.Length >= 2 && text[0] == '\'' && text[^1] == '\'' ? text[1..^1] : text;
        if (family == TypeFamily.Boolean)
        {
            return unquoted.ToLowerInvariant() switch
            {
                "1" or "true" or "t" or "yes" or "on" => "true",
                "0" or "false" or "f" or "no" or "off" => "false",
                _ => text,
            };
        }

        if (family is TypeFamily.Integer or TypeFamily.Decimal or TypeFamily.Float
            && decimal.TryParse(unquoted, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return number.ToString("G29", CultureInfo.InvariantCulture);
        }

        return text;
    }

    // ---- Recording ------------------------------------------------------------------------------------------------

    private void Report<T>(SchemaObjectKind kind, string schema, string? table, MatchResult<T> match, Func<T, string> name, Func<T, string> describe,
        Action<T, T> compare)
    {
        foreach (var item in match.LeftOnly)
        {
            OnlyIn(DifferenceKind.OnlyInLeft, kind, schema, table, name(item), describe(item));
        }

        foreach (var item in match.RightOnly)
        {
            OnlyIn(DifferenceKind.OnlyInRight, kind, schema, table, name(item), describe(item));
        }

        foreach (var (l, r, _) in match.Pairs)
        {
            compare(l, r);
        }
    }

    private void OnlyIn(DifferenceKind kind, SchemaObjectKind objectKind, string schema, string? table, string name, string description)
    {
        var side = kind == DifferenceKind.OnlyInLeft ? _left.Database : _right.Database;
        Add(kind, objectKind, schema, table, name, null, kind == DifferenceKind.OnlyInLeft ? description : null,
            kind == DifferenceKind.OnlyInRight ? description : null, $"{Describe(objectKind, table, name)}: only in {side} ({description})");
    }

    /// <summary>Records a change when the compared forms differ (the shown values are the raw ones).</summary>
    private void Changed(SchemaObjectKind kind, string schema, string? table, string name, string property, string? left, string? right,
        string? leftKey, string? rightKey)
    {
        if (!string.Equals(leftKey, rightKey, StringComparison.Ordinal))
        {
            Add(DifferenceKind.Changed, kind, schema, table, name, property, left, right,
                $"{Describe(kind, table, name)}: {property} {left ?? "(none)"} → {right ?? "(none)"}");
        }
    }

    private void Changed(SchemaObjectKind kind, string schema, string? table, string name, string property, string? left, string? right) =>
        Changed(kind, schema, table, name, property, left, right, left, right);

    private void Add(DifferenceKind kind, SchemaObjectKind objectKind, string schema, string? table, string? name, string? property, string? left,
        string? right, string message) =>
        _differences.Add(new SchemaDifference(kind, objectKind, schema, table, name, property, left, right, message));

    private static string Describe(SchemaObjectKind kind, string? table, string name) => kind switch
    {
        SchemaObjectKind.Schema => $"schema {name}",
        SchemaObjectKind.Table => $"table {name}",
        SchemaObjectKind.View => $"view {name}",
        SchemaObjectKind.Column => $"column {table}.{name}",
        SchemaObjectKind.PrimaryKey => $"primary key of {table}",
        SchemaObjectKind.ForeignKey => $"foreign key {name} of {table}",
        SchemaObjectKind.UniqueConstraint => $"unique constraint {name} of {table}",
        SchemaObjectKind.CheckConstraint => $"check {name} of {table}",
        SchemaObjectKind.Index => $"index {name} of {table}",
        SchemaObjectKind.Enum => $"enum {name}",
        SchemaObjectKind.Domain => $"domain {name}",
        _ => name,
    };

    // ---- Pairing --------------------------------------------------------------------------------------------------

    private sealed record MatchResult<T>(List<(T Left, T Right, int Stage)> Pairs, List<T> LeftOnly, List<T> RightOnly);

    /// <summary>
    /// Pairs items in stages: each key function in turn pairs the items still unpaired whose keys are equal and not
    /// null (first come, first paired). <c>Stage</c> says which key paired them.
    /// </summary>
    private static MatchResult<T> Match<T>(IReadOnlyList<T> left, IReadOnlyList<T> right, params Func<T, string?>[] keys)
    {
        var leftOnly = left.ToList();
        var rightOnly = right.ToList();
        var pairs = new List<(T, T, int)>();
        for (var stage = 0; stage < keys.Length; stage++)
        {
            var key = keys[stage];
            var byKey = new Dictionary<string, Queue<T>>(StringComparer.Ordinal);
            foreach (var r in rightOnly)
            {
                if (key(r) is { } k)
                {
                    if (!byKey.TryGetValue(k, out var queue))
                    {
                        byKey[k] = queue = new Queue<T>();
                    }

                    queue.Enqueue(r);
                }
            }

            foreach (var l in leftOnly.ToList())
            {
                if (key(l) is { } k && byKey.TryGetValue(k, out var queue) && queue.TryDequeue(out var r))
                {
                    pairs.Add((l, r, stage));
                    leftOnly.Remove(l);
                    rightOnly.Remove(r);
                }
            }
        }

        return new MatchResult<T>(pairs, leftOnly, rightOnly);
    }

    [GeneratedRegex(@"[_\s\-]+")]
    private static partial Regex StyleSeparators();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();

    [GeneratedRegex(@"\s*([(),])\s*")]
    private static partial Regex TypeSpacing();

    [GeneratedRegex(@"::\s*(character varying|double precision|timestamp with(out)? time zone|time with(out)? time zone|bit varying|""?[a-z_][a-z0-9_]*""?)(\s*\(\s*\d+(\s*,\s*\d+)?\s*\))?(\[\])*")]
    private static partial Regex PgCast();

    [GeneratedRegex(@"'(?:[^']|'')*'|[\s()]+")]
    private static partial Regex NoiseOutsideStrings();
}
