using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Switchboard.Tenants;

namespace Switchboard.Cli.Commands;

/// <summary>
/// <c>switchboard tenants list|create|drop|exists</c>: the tenant sets of the "Tenants" section, and their tenants'
/// databases (created from the set's Template and Schema; SQLite, PostgreSQL, MySQL/MariaDB).
/// </summary>
internal static class TenantsCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("tenants", "Inspect tenant sets, and create, drop or check tenants' databases.");
        command.Subcommands.Add(List(context));
        command.Subcommands.Add(Each(context, "create", "Create tenants' databases (a copy of the set's Template, then its Schema). Fails for one that exists.",
            confirm: false, async (set, id, ct) =>
            {
                await set.CreateAsync(id, ct).ConfigureAwait(false);
                return (true, "created");
            }));
        command.Subcommands.Add(Each(context, "drop", "Drop tenants' databases, deleting their data. Needs --yes.",
            confirm: true, async (set, id, ct) => await set.DropAsync(id, ct).ConfigureAwait(false) ? (true, "dropped") : (true, "did not exist")));
        command.Subcommands.Add(Each(context, "exists", "Say whether tenants' databases exist (exit 1 if one does not).",
            confirm: false, async (set, id, ct) => await set.ExistsAsync(id, ct).ConfigureAwait(false) ? (true, "exists") : (false, "does not exist")));
        return command;
    }

    private static Command List(CliContext context)
    {
        var json = CliJson.CreateOption();
        var command = new Command("list", "List every tenant set: where its databases are, its template and its connection cap.") { json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var catalog = context.LoadCatalog(parse);
            if (catalog is null)
            {
                return SwitchboardCli.UsageError;
            }

            var sets = catalog.TenantSetNames.Select(catalog.Tenants).ToList();
            if (parse.GetValue(json))
            {
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(sets.Select(s => new
                {
                    name = s.Name,
                    dialect = s.DialectName,
                    target = s.Target,
                    template = s.Template,
                    maxOpenConnections = s.MaxOpenConnections,
                    connectionLimitGroup = s.ConnectionLimitGroup,
                }), CliJson.Options)).ConfigureAwait(false);
                return SwitchboardCli.Ok;
            }

            if (sets.Count == 0)
            {
                context.Console.MarkupLine($"No tenant sets in {Markup.Escape(context.ConfigurationSource)} (add a \"Tenants\" section).");
                return SwitchboardCli.Ok;
            }

            context.Console.Write(Table(sets));
            context.Console.MarkupLine($"[grey]Configuration: {Markup.Escape(context.ConfigurationSource)}[/]");
            return SwitchboardCli.Ok;
        });
        return command;
    }

    /// <summary>The tenant sets as a table (also printed by <c>check</c>).</summary>
    internal static Table Table(IEnumerable<TenantSet> sets)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("Tenant set", "Dialect", "Target", "Template", "Cap");
        foreach (var s in sets)
        {
            table.AddRow(
                Markup.Escape(s.Name),
                s.DialectName ?? "[grey]per tenant[/]",
                Markup.Escape(s.Target),
                Markup.Escape(s.Template ?? "-"),
                s.MaxOpenConnections + (s.ConnectionLimitGroup is { } g ? $" (group {Markup.Escape(g)})" : "") + " connections");
        }

        return table;
    }

    /// <summary>A subcommand that does one thing to each tenant given, reporting each; exit 1 if any failed.</summary>
    private static Command Each(CliContext context, string name, string description, bool confirm,
        Func<TenantSet, string, CancellationToken, Task<(bool Ok, string Outcome)>> action)
    {
        var setArgument = new Argument<string>("set") { Description = "The tenant set." };
        var ids = new Argument<string[]>("tenants") { Description = "One or more tenant ids.", Arity = ArgumentArity.OneOrMore };
        var yes = new Option<bool>("--yes") { Description = "Confirm: the databases and their data are deleted." };
        var command = new Command(name, description) { setArgument, ids };
        if (confirm)
        {
            command.Options.Add(yes);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            if (confirm && !parse.GetValue(yes))
            {
                await context.Error.WriteLineAsync($"error: '{name}' deletes the tenants' databases and their data: add --yes to confirm").ConfigureAwait(false);
                return SwitchboardCli.UsageError;
            }

            await using var catalog = context.LoadCatalog(parse);
            if (catalog is null)
            {
                return SwitchboardCli.UsageError;
            }

            TenantSet set;
            var tenants = parse.GetValue(ids)!;
            try
            {
                set = catalog.Tenants(parse.GetValue(setArgument)!);
                foreach (var id in tenants)
                {
                    _ = set.ForTenant(id); // checks every id before the first change
                }
            }
            catch (Exception e) when (e is UnknownTenantSetException or ArgumentException)
            {
                await context.Error.WriteLineAsync("error: " + CliContext.Describe(e)).ConfigureAwait(false);
                return SwitchboardCli.UsageError;
            }

            var failed = false;
            foreach (var id in tenants)
            {
                var where = set.Target.Replace("{tenant}", id, StringComparison.Ordinal);
                try
                {
                    var (ok, outcome) = await action(set, id, cancellationToken).ConfigureAwait(false);
                    failed |= !ok;
                    context.Console.MarkupLine($"{Markup.Escape(set.Name)}/{Markup.Escape(id)}: {(ok ? "" : "[red]")}{outcome}{(ok ? "" : "[/]")} [grey]({Markup.Escape(where)})[/]");
                }
                catch (NotSupportedException e)
                {
                    await context.Error.WriteLineAsync("error: " + CliContext.Describe(e)).ConfigureAwait(false);
                    return SwitchboardCli.UsageError;
                }
                catch (Exception e) when (e is SwitchboardException or InvalidOperationException)
                {
                    // Already exists, cannot connect, in use: the message names set/tenant and never the password.
                    failed = true;
                    await context.Error.WriteLineAsync("error: " + CliContext.Describe(e)).ConfigureAwait(false);
                }
            }

            return failed ? SwitchboardCli.Failed : SwitchboardCli.Ok;
        });
        return command;
    }
}
