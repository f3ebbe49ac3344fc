using System.CommandLine;
using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard sql DATABASE "QUERY"</c>: runs one statement in a session and commits; prints a table, JSON or CSV.</summary>
internal static class SqlCommand
{
    public static Command Create(CliContext context)
    {
        var database = new Argument<string>("database") { Description = "The configured name of the database." };
        var query = new Argument<string>("query") { Description = "The SQL to run (committed when it succeeds)." };
        var json = new Option<bool>("--json") { Description = "Print rows as a JSON array of objects." };
        var csv = new Option<bool>("--csv") { Description = "Print rows as CSV with a header line." };
        var readOnly = new Option<bool>("--read-only") { Description = "Run in a read-only transaction." };
        var command = new Command("sql", "Run a SQL statement on one database and print the result.") { database, query, json, csv, readOnly };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(json) && parse.GetValue(csv))
            {
                await context.Error.WriteLineAsync("error: choose --json or --csv, not both").ConfigureAwait(false);
                return SwitchboardCli.UsageError;
            }

            await using var catalog = context.LoadCatalog(parse);
            if (catalog is null)
            {
                return SwitchboardCli.UsageError;
            }

            var name = parse.GetValue(database)!;
            if (!catalog.Contains(name))
            {
                await context.Error.WriteLineAsync("error: " + new UnknownDatabaseException(name, catalog.Names).Message).ConfigureAwait(false);
                return SwitchboardCli.UsageError;
            }

            try
            {
                await using var session = catalog.OpenSession(name, parse.GetValue(readOnly) ? SessionIntent.ReadOnly : SessionIntent.ReadWrite);
                var connection = await session.GetConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using var command = connection.CreateCommand();
                command.Transaction = await session.GetTransactionAsync(cancellationToken).ConfigureAwait(false);
                command.CommandText = parse.GetValue(query)!;
                var (columns, rows, affected) = await ReadAsync(command, cancellationToken).ConfigureAwait(false);
                await session.CommitAsync(cancellationToken).ConfigureAwait(false);
                if (parse.GetValue(json))
                {
                    await WriteJsonAsync(context.Out, columns, rows).ConfigureAwait(false);
                }
                else if (parse.GetValue(csv))
                {
                    await WriteCsvAsync(context.Out, columns, rows).ConfigureAwait(false);
                }
                else if (columns.Count == 0)
                {
                    context.Console.MarkupLine($"{affected} row{(affected == 1 ? "" : "s")} affected");
                }
                else
                {
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
                }

                return SwitchboardCli.Ok;
            }
            catch (SwitchboardException e)
            {
                await context.Error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
                return SwitchboardCli.Failed;
            }
        });
        return command;
    }

    private static async Task<(List<string> Columns, List<object?[]> Rows, int Affected)> ReadAsync(DbCommand command, CancellationToken cancellationToken)
    {
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
            var rows = new List<object?[]>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var values = new object?[reader.FieldCount];
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = await reader.IsDBNullAsync(i, cancellationToken).ConfigureAwait(false) ? null : reader.GetValue(i);
                }

                rows.Add(values);
            }

            return (columns, rows, reader.RecordsAffected);
        }
        catch (DbException e)
        {
            throw new SwitchboardException($"the statement failed: {e.Message}", e);
        }
    }

    internal static string Format(object value) => value switch
    {
        byte[] bytes => "0x" + Convert.ToHexString(bytes),
        DateTime d => d.ToString("O", CultureInfo.InvariantCulture),
        DateTimeOffset d => d.ToString("O", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static async Task WriteJsonAsync(TextWriter output, List<string> columns, List<object?[]> rows)
    {
        var objects = rows.Select(r =>
        {
            var o = new Dictionary<string, object?>();
            for (var i = 0; i < columns.Count; i++)
            {
                o[columns[i]] = r[i] switch
                {
                    null => null,
                    byte[] b => Convert.ToBase64String(b),
                    bool or string or int or long or short or byte or decimal or double or float => r[i],
                    var v => Format(v),
                };
            }

            return o;
        });
        await output.WriteLineAsync(JsonSerializer.Serialize(objects, CliJson.Options)).ConfigureAwait(false);
    }

    private static async Task WriteCsvAsync(TextWriter output, List<string> columns, List<object?[]> rows)
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
