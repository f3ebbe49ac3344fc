using System.Text;

namespace Switchboard.Sqlite;

/// <summary>
/// Reads what SQLite's pragmas do not tell from the DDL it stores in sqlite_schema: constraint names, CHECK
/// expressions, generated-column expressions, AUTOINCREMENT, COLLATE, DEFERRABLE, index expressions and WHERE clauses,
/// and view bodies. A tokenizer that knows SQLite's quoting ("x", [x], `x`, 'x') and comments, plus a shallow parser
/// of the statement's top-level structure; expression text is cut from the original, as written.
/// </summary>
internal static class SqliteDdlParser
{
    private static readonly HashSet<string> ColumnConstraintStarts = new(StringComparer.OrdinalIgnoreCase)
    {
        "CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT", "COLLATE", "REFERENCES", "GENERATED", "AS",
    };

    public static ParsedTable ParseTable(string sql)
    {
        var tokens = Tokenize(sql);
        var table = new ParsedTable();
        var open = tokens.FindIndex(t => t.Kind == TokenKind.Punct && t.Text == "(");
        if (open < 0 || tokens.Take(open).Any(t => t.Is("AS")))
        {
            return table; // CREATE TABLE … AS SELECT: no constraints
        }

        var close = Matching(tokens, open);
        table.WithoutRowId = tokens.Skip(close + 1).Any(t => t.Is("ROWID"));
        foreach (var (start, end) in SplitTopLevel(tokens, open + 1, close))
        {
            if (start >= end)
            {
                continue;
            }

            var first = tokens[start];
            if (first.IsKeyword("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"))
            {
                ParseTableConstraint(sql, tokens, start, end, table);
            }
            else
            {
                ParseColumn(sql, tokens, start, end, table);
            }
        }

        return table;
    }

    /// <summary>The key parts (expression text without COLLATE/ASC/DESC) and WHERE clause of CREATE INDEX.</summary>
    public static (IReadOnlyList<string> Parts, string? Predicate) ParseIndex(string sql)
    {
        var tokens = Tokenize(sql);
        var on = tokens.FindIndex(t => t.Is("ON"));
        var open = on < 0 ? -1 : tokens.FindIndex(on, t => t.Kind == TokenKind.Punct && t.Text == "(");
        if (open < 0)
        {
            return ([], null);
        }

        var close = Matching(tokens, open);
        var parts = new List<string>();
        foreach (var (start, end) in SplitTopLevel(tokens, open + 1, close))
        {
            var last = end;
            while (last > start && tokens[last - 1].IsKeyword("ASC", "DESC"))
            {
                last--;
            }

            // A trailing COLLATE name belongs to the key part, not to the expression.
            if (last - 2 > start && tokens[last - 2].Is("COLLATE"))
            {
                last -= 2;
            }

            parts.Add(Text(sql, tokens, start, last));
        }

        var where = tokens.FindIndex(close, t => t.Is("WHERE"));
        return (parts, where < 0 ? null : Text(sql, tokens, where + 1, tokens.Count));
    }

    /// <summary>The SELECT of CREATE VIEW (after the top-level AS).</summary>
    public static string? ParseViewBody(string sql)
    {
        var tokens = Tokenize(sql);
        var depth = 0;
        for (var i = 0; i < tokens.Count; i++)
        {
            var t = tokens[i];
            depth += t.Text == "(" && t.Kind == TokenKind.Punct ? 1 : t.Text == ")" && t.Kind == TokenKind.Punct ? -1 : 0;
            if (depth == 0 && t.Is("AS"))
            {
                return Text(sql, tokens, i + 1, tokens.Count);
            }
        }

        return null;
    }

    /// <summary>Removes SQLite identifier quoting: "a""b" → a"b, [a b] → a b, `a``b` → a`b, 'a' → a.</summary>
    public static string Unquote(string identifier)
    {
        if (identifier.Length >= 2)
        {
            var (first, last) = (identifier[0], identifier[^1]);
            if ((first, last) is ('"', '"') or ('`', '`') or ('\'', '\''))
            {
                return identifier[1..^1].Replace(new string(first, 2), first.ToString(), StringComparison.Ordinal);
            }

            if ((first, last) is ('[', ']'))
            {
                return identifier[1..^1];
            }
        }

        return identifier;
    }

    private static void ParseColumn(string sql, List<Token> tokens, int start, int end, ParsedTable table)
    {
        var column = new ParsedColumn(Unquote(tokens[start].Text));
        table.Columns.Add(column);
        var i = start + 1;
        while (i < end && !tokens[i].IsKeyword(ColumnConstraintStarts))
        {
            i = tokens[i].Text == "(" ? Matching(tokens, i) + 1 : i + 1; // the declared type, e.g. DECIMAL(10, 2)
        }

        string? name = null;
        while (i < end)
        {
            var t = tokens[i];
            if (t.Is("CONSTRAINT") && i + 1 < end)
            {
                name = Unquote(tokens[i + 1].Text);
                i += 2;
                continue;
            }

            if (t.Is("PRIMARY"))
            {
                table.PrimaryKeyName ??= name;
                i = Skip(tokens, i + 2, end, out _);
                if (i < end && tokens[i].Is("AUTOINCREMENT"))
                {
                    column.AutoIncrementKeyword = true;
                    i++;
                }
            }
            else if (t.Is("UNIQUE"))
            {
                table.Uniques.Add((name, [column.Name]));
                i = Skip(tokens, i + 1, end, out _);
            }
            else if (t.Is("CHECK") && i + 1 < end && tokens[i + 1].Text == "(")
            {
                var close = Matching(tokens, i + 1);
                table.Checks.Add((name, Text(sql, tokens, i + 2, close)));
                i = close + 1;
            }
            else if (t.Is("COLLATE") && i + 1 < end)
            {
                column.Collation = Unquote(tokens[i + 1].Text);
                i += 2;
            }
            else if (t.Is("REFERENCES") && i + 1 < end)
            {
                i = ParseReferences(tokens, i + 1, end, name, [column.Name], table);
            }
            else if ((t.Is("GENERATED") || t.Is("AS")) && FindNext(tokens, i, end, "(") is var open and >= 0)
            {
                var close = Matching(tokens, open);
                column.GeneratedExpression = Text(sql, tokens, open + 1, close);
                column.GeneratedStored = close + 1 < end && tokens[close + 1].Is("STORED");
                i = close + 1;
            }
            else
            {
                i = t.Text == "(" ? Matching(tokens, i) + 1 : i + 1; // NOT NULL, DEFAULT …, conflict clauses
                continue;
            }

            name = null;
        }
    }

    private static void ParseTableConstraint(string sql, List<Token> tokens, int start, int end, ParsedTable table)
    {
        string? name = null;
        var i = start;
        if (tokens[i].Is("CONSTRAINT") && i + 1 < end)
        {
            name = Unquote(tokens[i + 1].Text);
            i += 2;
        }

        if (i >= end)
        {
            return;
        }

        var kind = tokens[i];
        var open = FindNext(tokens, i, end, "(");
        if (open < 0)
        {
            return;
        }

        var close = Matching(tokens, open);
        if (kind.Is("PRIMARY"))
        {
            table.PrimaryKeyName = name;
        }
        else if (kind.Is("UNIQUE"))
        {
            table.Uniques.Add((name, ColumnList(tokens, open, close)));
        }
        else if (kind.Is("CHECK"))
        {
            table.Checks.Add((name, Text(sql, tokens, open + 1, close)));
        }
        else if (kind.Is("FOREIGN"))
        {
            var references = FindNext(tokens, close, end, "REFERENCES");
            if (references >= 0)
            {
                ParseReferences(tokens, references + 1, end, name, ColumnList(tokens, open, close), table);
            }
        }
    }

    private static int ParseReferences(List<Token> tokens, int i, int end, string? name, IReadOnlyList<string> columns, ParsedTable table)
    {
        var referenced = Unquote(tokens[i].Text);
        i++;
        if (i < end && tokens[i].Text == "(")
        {
            i = Matching(tokens, i) + 1;
        }

        var deferrable = false;
        var deferred = false;
        while (i < end && tokens[i].IsKeyword("ON", "MATCH", "NOT", "DEFERRABLE", "INITIALLY", "SET", "NO", "ACTION", "CASCADE", "RESTRICT", "NULL",
                   "DEFAULT", "DELETE", "UPDATE", "DEFERRED", "IMMEDIATE", "SIMPLE", "FULL", "PARTIAL"))
        {
            if (tokens[i].Is("DEFERRABLE"))
            {
                deferrable = i == 0 || !tokens[i - 1].Is("NOT");
            }
            else if (tokens[i].Is("DEFERRED"))
            {
                deferred = deferrable;
            }

            i++;
        }

        table.ForeignKeys.Add(new ParsedForeignKey(name, columns, referenced, deferrable, deferred));
        return i;
    }

    private static List<string> ColumnList(List<Token> tokens, int open, int close) =>
        [.. SplitTopLevel(tokens, open + 1, close).Where(p => p.Start < p.End).Select(p => Unquote(tokens[p.Start].Text))];

    /// <summary>Skips an optional ASC/DESC, KEY and ON CONFLICT clause.</summary>
    private static int Skip(List<Token> tokens, int i, int end, out bool descending)
    {
        descending = false;
        while (i < end && tokens[i].IsKeyword("ASC", "DESC", "KEY", "ON", "CONFLICT", "ROLLBACK", "ABORT", "FAIL", "IGNORE", "REPLACE"))
        {
            descending |= tokens[i].Is("DESC");
            i++;
        }

        return i;
    }

    private static int FindNext(List<Token> tokens, int from, int end, string text)
    {
        for (var i = from; i < end; i++)
        {
            if (tokens[i].Kind is TokenKind.Punct or TokenKind.Word && tokens[i].Text.Equals(text, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    private static int Matching(List<Token> tokens, int open)
    {
        var depth = 0;
        for (var i = open; i < tokens.Count; i++)
        {
            if (tokens[i].Kind != TokenKind.Punct)
            {
                continue;
            }

            depth += tokens[i].Text == "(" ? 1 : tokens[i].Text == ")" ? -1 : 0;
            if (depth == 0)
            {
                return i;
            }
        }

        return tokens.Count - 1;
    }

    private static IEnumerable<(int Start, int End)> SplitTopLevel(List<Token> tokens, int start, int end)
    {
        var depth = 0;
        var from = start;
        for (var i = start; i < end; i++)
        {
            if (tokens[i].Kind != TokenKind.Punct)
            {
                continue;
            }

            switch (tokens[i].Text)
            {
                case "(":
                    depth++;
                    break;
                case ")":
                    depth--;
                    break;
                case "," when depth == 0:
                    yield return (from, i);
                    from = i + 1;
                    break;
            }
        }

        yield return (from, end);
    }

    /// <summary>The original text from token <paramref name="start"/> up to (not including) token <paramref name="end"/>.</summary>
    private static string Text(string sql, List<Token> tokens, int start, int end)
    {
        if (start >= end || start >= tokens.Count)
        {
            return "";
        }

        end = Math.Min(end, tokens.Count);
        var last = tokens[end - 1];
        if (last.Kind == TokenKind.Punct && last.Text == ";")
        {
            if (end - 1 <= start)
            {
                return "";
            }

            last = tokens[end - 2];
        }

        return sql[tokens[start].Start..(last.Start + last.Text.Length)].Trim();
    }

    internal static List<Token> Tokenize(string sql)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
            {
                var newline = sql.IndexOf('\n', i);
                i = newline < 0 ? sql.Length : newline + 1;
            }
            else if (c == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
            {
                var close = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = close < 0 ? sql.Length : close + 2;
            }
            else if (c is '"' or '`' or '\'')
            {
                var j = i + 1;
                while (j < sql.Length)
                {
                    if (sql[j] == c)
                    {
                        if (j + 1 < sql.Length && sql[j + 1] == c)
                        {
                            j += 2; // doubled quote inside
                            continue;
                        }

                        break;
                    }

                    j++;
                }

                var end = Math.Min(j + 1, sql.Length);
                tokens.Add(new Token(c == '\'' ? TokenKind.String : TokenKind.Quoted, sql[i..end], i));
                i = end;
            }
            else if (c == '[')
            {
                var close = sql.IndexOf(']', i + 1);
                var end = close < 0 ? sql.Length : close + 1;
                tokens.Add(new Token(TokenKind.Quoted, sql[i..end], i));
                i = end;
            }
            else if (char.IsLetterOrDigit(c) || c is '_' or '$' || c > 127)
            {
                var j = i + 1;
                while (j < sql.Length && (char.IsLetterOrDigit(sql[j]) || sql[j] is '_' or '$' || sql[j] > 127 || (sql[j] == '.' && char.IsDigit(c))))
                {
                    j++;
                }

                tokens.Add(new Token(TokenKind.Word, sql[i..j], i));
                i = j;
            }
            else
            {
                tokens.Add(new Token(TokenKind.Punct, c.ToString(), i));
                i++;
            }
        }

        return tokens;
    }

    internal enum TokenKind
    {
        Word,
        Quoted,
        String,
        Punct,
    }

    internal readonly record struct Token(TokenKind Kind, string Text, int Start)
    {
        /// <summary>An unquoted word equal to <paramref name="keyword"/> (quoted identifiers are never keywords).</summary>
        public bool Is(string keyword) => Kind == TokenKind.Word && Text.Equals(keyword, StringComparison.OrdinalIgnoreCase);

        public bool IsKeyword(params ReadOnlySpan<string> keywords)
        {
            foreach (var k in keywords)
            {
                if (Is(k))
                {
                    return true;
                }
            }

            return false;
        }

        public bool IsKeyword(HashSet<string> keywords) => Kind == TokenKind.Word && keywords.Contains(Text);
    }
}

internal sealed class ParsedTable
{
    public bool WithoutRowId { get; set; }

    public string? PrimaryKeyName { get; set; }

    public List<ParsedColumn> Columns { get; } = [];

    public List<(string? Name, IReadOnlyList<string> Columns)> Uniques { get; } = [];

    public List<(string? Name, string Expression)> Checks { get; } = [];

    public List<ParsedForeignKey> ForeignKeys { get; } = [];

    public ParsedColumn? FindColumn(string name) => Columns.FirstOrDefault(c => c.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
}

internal sealed class ParsedColumn(string name)
{
    public string Name { get; } = name;

    public bool AutoIncrementKeyword { get; set; }

    public string? Collation { get; set; }

    public string? GeneratedExpression { get; set; }

    public bool GeneratedStored { get; set; }
}

internal sealed record ParsedForeignKey(string? Name, IReadOnlyList<string> Columns, string ReferencedTable, bool Deferrable, bool InitiallyDeferred);
