using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard check</c>: connects to every database in parallel, one row each; exit 1 if any fails.</summary>
internal static class CheckCommand
{
    public static Command Create(CliContext context)
    {
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var command = new Command("check", "Connect to every configured database and report version, latency and pool.") { json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var catalog = context.LoadCatalog(parse);
            if (catalog is null)
            {
                return SwitchboardCli.UsageError;
            }

            var results = await catalog.CheckAsync(cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(results.Select(r => new
                {
                    name = r.Name,
                    dialect = r.Dialect,
                    target = r.Target,
                    ok = r.Ok,
                    serverVersion = r.ServerVersion,
                    latencyMs = r.Latency?.TotalMilliseconds,
                    pool = r.Pool is { } p ? new { inUse = p.InUse, maxSize = p.MaxSize, waiting = p.Waiting } : null,
                    error = r.Error,
                }), CliJson.Options)).ConfigureAwait(false);
            }
            else
            {
                var table = new Table().Border(TableBorder.Rounded)
                    .AddColumns("Database", "Dialect", "Target", "Version", "Latency", "Pool", "Status");
                foreach (var r in results)
                {
                    table.AddRow(
                        Markup.Escape(r.Name),
                        r.Dialect,
                        Markup.Escape(r.Target),
                        Markup.Escape(r.ServerVersion ?? "-"),
                        r.Latency is { } l ? l.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "-",
                        r.Pool is { } p ? $"{p.InUse}/{p.MaxSize}" : "-",
                        r.Ok ? "[green]OK[/]" : "[red]ERROR[/] " + Markup.Escape(r.Error ?? ""));
                }

                context.Console.Write(table);
                context.Console.MarkupLine($"[grey]{Markup.Escape(context.ConfigurationSource)}[/]");
            }

            return results.All(r => r.Ok) ? SwitchboardCli.Ok : SwitchboardCli.Failed;
        });
        return command;
    }
}

internal static class CliJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}
