using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Switchboard.Cli.Commands;

/// <summary>How <c>sql</c> prints a result: a table, JSON (an array of objects) or CSV. One writer for every kind of target.</summary>
internal enum ResultFormat
{
    Table,
    Json,
    Csv,
}

internal static class ResultWriter
{
    /// <summary>
    /// Every result of a statement (several when the text holds several statements). JSON: one result as an array of
    /// rows (or <c>{"rowsAffected": n}</c> for a statement without rows), several as an array of those; CSV: one block
    /// per result, separated by a blank line.
    /// </summary>
    public static async Task WriteAsync(CliContext context, ResultFormat format, IReadOnlyList<StatementResult> results)
    {
        if (format == ResultFormat.Json && results.Count != 1)
        {
            await context.Out.WriteLineAsync(JsonSerializer.Serialize(results.Select(JsonOf), CliJson.Options)).ConfigureAwait(false);
            return;
        }

        for (var i = 0; i < results.Count; i++)
        {
            if (i > 0 && format == ResultFormat.Csv)
            {
                await context.Out.WriteLineAsync().ConfigureAwait(false);
            }

            await WriteAsync(context, format, results[i].Columns, results[i].Rows, results[i].Affected).ConfigureAwait(false);
        }
    }

    public static async Task WriteAsync(CliContext context, ResultFormat format, IReadOnlyList<string> columns, IReadOnlyList<object?[]> rows, int affected)
    {
        switch (format)
        {
            case ResultFormat.Json when columns.Count == 0:
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(JsonOf(new StatementResult(columns, rows, affected)), CliJson.Options)).ConfigureAwait(false);
                break;
            case ResultFormat.Json:
                await WriteJsonAsync(context.Out, columns, rows).ConfigureAwait(false);
                break;
            case ResultFormat.Csv when columns.Count == 0:
                await context.Out.WriteLineAsync("rows_affected").ConfigureAwait(false);
                await context.Out.WriteLineAsync(affected < 0 ? "" : affected.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
                break;
            case ResultFormat.Csv:
                await WriteCsvAsync(context.Out, columns, rows).ConfigureAwait(false);
                break;
            default:
                if (columns.Count == 0)
                {
                    // -1: the driver reports no count (a CREATE TABLE, a SET): say that it ran, not "-1 rows".
                    context.Console.MarkupLine(affected < 0 ? "done" : $"{affected} row{(affected == 1 ? "" : "s")} affected");
                    break;
                }

                var table = new Table().Border(TableBorder.Rounded);
                foreach (var c in columns)
                {
                    table.AddColumn(Markup.Escape(c));
                }

                foreach (var row in rows)
                {
                    table.AddRow(row.Select(v => v is null ? "[grey]NULL[/]" : Markup.Escape(Format(v))).ToArray());
                }

                context.Console.Write(table);
                context.Console.MarkupLine($"[grey]{rows.Count} row{(rows.Count == 1 ? "" : "s")}[/]");
                break;
        }
    }

    internal static string Format(object value) => value switch
    {
        byte[] bytes => "0x" + Convert.ToHexString(bytes),

        DateTime d => d.ToString("O", CultureInfo.InvariantCulture),
        DateTimeOffset d => d.ToString("O", CultureInfo.InvariantCulture),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),

        // PostgreSQL arrays: {1,2,3}, as psql shows them.
        Array array => "{" + string.Join(',', array.Cast<object?>().Select(v => v is null ? "NULL" : Format(v))) + "}",
        _ => value.ToString() ?? "",
    };

    private static object JsonOf(StatementResult result) => result.Columns.Count == 0
        ? new Dictionary<string, object?> { ["rowsAffected"] = result.Affected < 0 ? null : result.Affected }
        : JsonRows(result.Columns, result.Rows);

    private static async Task WriteJsonAsync(TextWriter output, IReadOnlyList<string> columns, IReadOnlyList<object?[]> rows) =>
        await output.WriteLineAsync(JsonSerializer.Serialize(JsonRows(columns, rows), CliJson.Options)).ConfigureAwait(false);

    private static List<Dictionary<string, object?>> JsonRows(IReadOnlyList<string> columns, IReadOnlyList<object?[]> rows)
    {
        return rows.Select(r =>
        {
            var o = new Dictionary<string, object?>();
            for (var i = 0; i < columns.Count; i++)
            {
                o[columns[i]] = r[i] switch
                {
                    null => null,
                    byte[] b => Convert.ToBase64String(b),
                    bool or string or int or long or short or byte or decimal or double or float => r[i],
                    uint or ulong or ushort or sbyte => r[i], // MySQL unsigned columns: numbers, not strings
                    Array array and not byte[] => array, // PostgreSQL arrays: JSON arrays
                    var v => Format(v),
                };
            }

            return o;
        }).ToList();
    }

    private static async Task WriteCsvAsync(TextWriter output, IReadOnlyList<string> columns, IReadOnlyList<object?[]> rows)
    {
        await output.WriteLineAsync(string.Join(',', columns.Select(Quote))).ConfigureAwait(false);
        foreach (var row in rows)
        {
            await output.WriteLineAsync(string.Join(',', row.Select(v => v is null ? "" : Quote(Format(v))))).ConfigureAwait(false);
        }
    }

    /// <summary>RFC 4180: quote a field holding a comma, quote or line break, doubling inner quotes.</summary>
    private static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;
}

/// <summary>One result of a statement: its columns and rows, or (no columns) the rows it affected, -1 when the driver does not say.</summary>
internal sealed record StatementResult(IReadOnlyList<string> Columns, IReadOnlyList<object?[]> Rows, int Affected);
