using System.Text;

namespace Switchboard.Tests.Reflection;

/// <summary>Splits a SQL script into statements at semicolons outside strings, quoted identifiers and comments.</summary>
public static class SqlScript
{
    public static IEnumerable<string> Split(string script, bool backslashEscapes = false)
    {
        var current = new StringBuilder();
        var i = 0;
        while (i < script.Length)
        {
            var c = script[i];
            if (c == '-' && i + 1 < script.Length && script[i + 1] == '-')
            {
                var end = script.IndexOf('\n', i);
                i = end < 0 ? script.Length : end + 1;
                current.Append('\n');
                continue;
            }

            if (c == '/' && i + 1 < script.Length && script[i + 1] == '*')
            {
                var end = script.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? script.Length : end + 2;
                current.Append(' ');
                continue;
            }

            if (c is '\'' or '"' or '`' or '[')
            {
                var close = c == '[' ? ']' : c;
                var j = i + 1;
                while (j < script.Length)
                {
                    if (backslashEscapes && c == '\'' && script[j] == '\\')
                    {
                        j += 2;
                        continue;
                    }

                    if (script[j] == close)
                    {
                        if (close != ']' && j + 1 < script.Length && script[j + 1] == close)
                        {
                            j += 2;
                            continue;
                        }

                        break;
                    }

                    j++;
                }

                var stop = Math.Min(j + 1, script.Length);
                current.Append(script, i, stop - i);
                i = stop;
                continue;
            }

            if (c == ';')
            {
                if (current.ToString().Trim() is { Length: > 0 } statement)
                {
                    yield return statement;
                }

                current.Clear();
                i++;
                continue;
            }

            current.Append(c);
            i++;
        }

        if (current.ToString().Trim() is { Length: > 0 } last)
        {
            yield return last;
        }
    }
}
