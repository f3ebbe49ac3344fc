using System.CommandLine;
using System.Text.Json;
using Spectre.Console;

namespace Switchboard.Cli.Commands;

/// <summary>
/// <c>switchboard recover [--dry-run] [--json]</c>: one recovery pass over every configured database that can prepare:
/// commits the application's prepared transactions whose commit decision is in its log, rolls back its others, leaves
/// everything else alone, and prints what it did. Exit 0 when nothing is left in doubt, 1 otherwise.
/// </summary>
internal static class RecoverCommand
{
    public static Command Create(CliContext context)
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "Only say what would be done; touch nothing." };
        var json = CliJson.CreateOption();
        var logFolder = new Option<DirectoryInfo?>("--log-folder")
        {
            Description = $"The application's transaction log folder (default: ./{CliContext.DefaultFolder}/transactions).",
        };
        var logDatabase = new Option<string?>("--log-database") { Description = "The named database that holds the transaction log, when the application keeps it there." };
        var command = new Command("recover", "Complete or roll back distributed transactions left in doubt (after a crash, or an unreachable database).")
        {
            dryRun, json, logFolder, logDatabase,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var folder = parse.GetValue(logFolder);
            var database = parse.GetValue(logDatabase);
            if (folder is not null && database is not null)
            {
                await context.Error.WriteLineAsync("error: choose --log-folder or --log-database, not both").ConfigureAwait(false);
                return SwitchboardCli.UsageError;
            }

            await using var catalog = context.LoadCatalog(parse, builder => builder.ConfigureTransactions(o =>
            {
                o.RecoverOnStart = false;
                o.LogDatabase = database;
                o.LogFolder = database is not null ? null
                    : folder is not null ? Path.GetFullPath(folder.ToString(), context.WorkingDirectory)
                    : Path.Combine(context.WorkingDirectory, CliContext.DefaultFolder, "transactions");
            }));
            if (catalog is null)
            {
                return SwitchboardCli.UsageError;
            }

            RecoveryReport report;
            try
            {
                report = await catalog.RecoverTransactionsAsync(new RecoveryOptions { DryRun = parse.GetValue(dryRun) }, cancellationToken).ConfigureAwait(false);
            }
            catch (SwitchboardException e)
            {
                await context.Error.WriteLineAsync($"error: cannot read the transaction log: {e.Message}").ConfigureAwait(false);
                return SwitchboardCli.Failed;
            }

            if (parse.GetValue(json))
            {
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(new
                {
                    log = new { location = report.LogLocation, id = report.LogId, found = report.LogFound },
                    dryRun = report.DryRun,
                    complete = report.IsComplete,
                    forgottenDecisions = report.ForgottenDecisions,
                    actions = report.Actions.Select(a => new
                    {
                        transaction = a.TransactionId,
                        database = a.Database,
                        branch = a.Branch,
                        action = JsonNamingPolicy.CamelCase.ConvertName(a.Action.ToString()),
                        detail = a.Detail,
                        otherLog = a.OtherLogId,
                    }),
                    problems = report.Problems.Select(p => new { database = p.Database, message = p.Message }),
                }, CliJson.Options)).ConfigureAwait(false);
            }
            else
            {
                Print(context, report);
            }

            // A dry run that would commit or roll back something reports it as left in doubt (exit 1), like a real run
            // that could not: a monitoring job can run --dry-run. So is a run that found no log here but prepared
            // transactions of some Switchboard log: most likely this application's, looked for in the wrong place.
            return report.IsComplete && !Orphaned(report).Any() ? SwitchboardCli.Ok : SwitchboardCli.Failed;
        });
        return command;
    }

    private static void Print(CliContext context, RecoveryReport report)
    {
        var console = context.Console;
        console.MarkupLine(report.LogFound
            ? $"Transaction log: [bold]{Markup.Escape(report.LogLocation)}[/] (id {report.LogId})"
            : $"[yellow]No transaction log at {Markup.Escape(report.LogLocation)}[/]: nothing of this application's to recover here "
              + "(give --log-folder or --log-database if it keeps its log elsewhere).");
        if (report.Actions.Count == 0)
        {
            console.MarkupLine("No prepared transaction found.");
        }
        else
        {
            var table = new Table().Border(TableBorder.Rounded).AddColumns("Transaction", "Database", "Branch", "Action", "Why");
            foreach (var a in report.Actions)
            {
                table.AddRow(Markup.Escape(a.TransactionId), Markup.Escape(a.Database), Markup.Escape(a.Branch), Describe(a.Action), Markup.Escape(a.Detail));
            }

            console.Write(table);
        }

        foreach (var problem in report.Problems)
        {
            console.MarkupLine($"[red]{Markup.Escape(problem.Database)}[/]: {Markup.Escape(problem.Message)}");
        }

        if (report.ForgottenDecisions > 0)
        {
            console.MarkupLine(report.DryRun
                ? $"{report.ForgottenDecisions} decision(s) of finished transactions would be removed from the log."
                : $"{report.ForgottenDecisions} decision(s) of finished transactions removed from the log.");
        }

        var orphaned = Orphaned(report).ToList();
        if (orphaned.Count > 0)
        {
            console.MarkupLine($"[yellow]{orphaned.Count} prepared transaction(s) of Switchboard log(s) {Markup.Escape(string.Join(", ", orphaned.Distinct()))} "
                + "are in doubt, and no log was found here to decide them.[/] If they are this application's, run recover where its log is "
                + "(--log-folder, or --log-database when it keeps its log in a database); they were left alone.");
        }

        console.MarkupLine(report.IsComplete && orphaned.Count == 0
            ? "[green]Nothing of this application's is left in doubt.[/]"
            : report.DryRun
                ? "Dry run: nothing was changed."
                : report.IsComplete
                    ? "[yellow]Nothing was changed: run recover with the application's log.[/]"
                    : "[yellow]Something is left in doubt: run recover again once every database is reachable.[/]");
        console.MarkupLine($"[grey]Configuration: {Markup.Escape(context.ConfigurationSource)}[/]");
    }

    // Without a log of its own, recovery cannot tell this application's branches from another's: each is one with a log id.
    private static IEnumerable<string> Orphaned(RecoveryReport report) =>
        report.LogFound ? [] : report.Actions.Where(a => a.OtherLogId is not null).Select(a => a.OtherLogId!);

    private static string Describe(RecoveryActionKind action) => action switch
    {
        RecoveryActionKind.Committed => "[green]committed[/]",
        RecoveryActionKind.RolledBack => "[green]rolled back[/]",
        RecoveryActionKind.WouldCommit => "would commit",
        RecoveryActionKind.WouldRollBack => "would roll back",
        RecoveryActionKind.LeftInProgress => "[yellow]left alone[/]",
        RecoveryActionKind.Foreign => "[grey]left: foreign[/]",
        _ => "[red]failed[/]",
    };
}
