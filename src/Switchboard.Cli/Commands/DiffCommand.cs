using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Switchboard.Reflection;

namespace Switchboard.Cli.Commands;

/// <summary>
/// <c>switchboard diff A B [--json] [--exact-types]</c>: reflects two databases (or reads JSON snapshots written by
/// <c>switchboard schema --json</c>) and prints their differences. Exit code 0 when equal, 1 when different, 2 when
/// the comparison could not be made (as diff(1) does), so scripts can tell drift from trouble.
/// </summary>
internal static class DiffCommand
{
    public static Command Create(CliContext context)
    {
        var left = new Argument<string>("databaseA") { Description = "A configured database, or a JSON file from 'switchboard schema --json'." };
        var right = new Argument<string>("databaseB") { Description = "The database (or JSON file) to compare it with." };
        var json = CliJson.CreateOption("Print the differences as JSON.");
        var exactTypes = new Option<bool>("--exact-types") { Description = "Compare declared types (default: declared types within one dialect, type families across dialects)." };
        var typeFamilies = new Option<bool>("--type-families") { Description = "Compare type families even within one dialect." };
        var names = new Option<NameMatching>("--match-names")
        {
            Description = "How table, view and column names are paired: exact (default), ignore-case, ignore-style (InvoiceLine = invoice_line).",
            Arity = ArgumentArity.ExactlyOne,
            CustomParser = r => r.Tokens.Count == 0 ? NameMatching.Exact : r.Tokens[0].Value.ToLowerInvariant() switch
            {
                "exact" => NameMatching.Exact,
                "ignore-case" or "ignorecase" => NameMatching.IgnoreCase,
                "ignore-style" or "ignorestyle" => NameMatching.IgnoreStyle,
                var other => Fail<NameMatching>(r, $"--match-names '{other}' is not exact, ignore-case or ignore-style"),
            },
            DefaultValueFactory = _ => NameMatching.Exact,
        };
        var constraintNames = new Option<string>("--constraint-names")
        {
            Description = "Compare constraint and index names: auto (default: only within one dialect), compare, ignore.",
            DefaultValueFactory = _ => "auto",
        };
        constraintNames.AcceptOnlyFromAmong("auto", "compare", "ignore");
        var command = new Command("diff", "Compare the schemas of two databases (same or different dialects). Exit 0 when equal, 1 when different.")
        {
            left, right, json, exactTypes, typeFamilies, names, constraintNames,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(exactTypes) && parse.GetValue(typeFamilies))
            {
                await context.Error.WriteLineAsync("error: choose --exact-types or --type-families, not both").ConfigureAwait(false);
                return SwitchboardCli.UsageError;
            }

            var a = parse.GetValue(left)!;
            var b = parse.GetValue(right)!;
            var needsCatalog = !IsSnapshot(context, a) || !IsSnapshot(context, b);
            await using var catalog = needsCatalog ? context.LoadCatalog(parse) : null;
            if (needsCatalog && catalog is null)
            {
                return SwitchboardCli.UsageError;
            }

            foreach (var name in new[] { a, b }.Where(n => !IsSnapshot(context, n) && !catalog!.Contains(n)))
            {
                // A name ending in .json is a snapshot file that is not there, not a misspelt database.
                var message = name.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                    ? $"the snapshot file '{name}' does not exist (in {context.WorkingDirectory})"
                    : $"{new UnknownDatabaseException(name, catalog!.Names).Message} (or give a JSON file written by 'switchboard schema --json')";
                await context.Error.WriteLineAsync("error: " + message).ConfigureAwait(false);
                return SwitchboardCli.UsageError;
            }

            DatabaseSchema[] sides;
            try
            {
                sides = await Task.WhenAll(LoadAsync(context, catalog, a, cancellationToken), LoadAsync(context, catalog, b, cancellationToken)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SwitchboardException or JsonException or IOException)
            {
                await context.Error.WriteLineAsync("error: " + CliContext.Describe(e)).ConfigureAwait(false);
                return SwitchboardCli.UsageError;
            }

            var options = new DiffOptions
            {
                Types = parse.GetValue(exactTypes) ? TypeComparison.Exact : parse.GetValue(typeFamilies) ? TypeComparison.Family : TypeComparison.Auto,
                Names = parse.GetValue(names),
                CompareConstraintNames = parse.GetValue(constraintNames) switch
                {
                    "compare" => true,
                    "ignore" => false,
                    _ => null,
                },
            };
            var diff = SchemaDiff.Compare(sides[0], sides[1], options);
            if (parse.GetValue(json))
            {
                await context.Out.WriteLineAsync(SchemaJson.Serialize(diff)).ConfigureAwait(false);
            }
            else
            {
                DiffTree.Write(context.Console, diff);
            }

            return diff.Equal ? SwitchboardCli.Ok : SwitchboardCli.Failed;
        });
        return command;
    }

    private static T Fail<T>(System.CommandLine.Parsing.ArgumentResult result, string message)
    {
        result.AddError(message);
        return default!;
    }

    /// <summary>A path to an existing .json file (a configured database name never ends in .json).</summary>
    private static bool IsSnapshot(CliContext context, string argument) =>
        argument.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && File.Exists(Path.Combine(context.WorkingDirectory, argument));

    private static async Task<DatabaseSchema> LoadAsync(CliContext context, SwitchboardCatalog? catalog, string argument, CancellationToken cancellationToken)
    {
        if (IsSnapshot(context, argument))
        {
            var text = await File.ReadAllTextAsync(Path.Combine(context.WorkingDirectory, argument), cancellationToken).ConfigureAwait(false);
            try
            {
                return SchemaJson.Deserialize(text);
            }
            catch (JsonException e)
            {
                throw new JsonException($"'{argument}' is not a schema written by 'switchboard schema --json': {e.Message}", e);
            }
        }

        return await catalog!.GetEngine(argument).ReflectAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The readable, coloured form of a diff: differences grouped by schema and table.</summary>
internal static class DiffTree
{
    public static void Write(IAnsiConsole console, SchemaDiff diff)
    {
        var rules = $"types: {Word(diff.Rules.Types)}; names: {Word(diff.Rules.Names)}; constraint names: {(diff.Rules.ConstraintNames ? "compared" : "ignored")}";
        var header = $"[bold]{Markup.Escape(diff.Left.Database)}[/] [grey]({Markup.Escape(diff.Left.Dialect)})[/] ↔ [bold]{Markup.Escape(diff.Right.Database)}[/] [grey]({Markup.Escape(diff.Right.Dialect)})[/]";
        if (diff.Equal)
        {
            console.MarkupLine($"{header}: [green]no differences[/] [grey]({Markup.Escape(rules)})[/]");
            return;
        }

        var root = new Tree($"{header} [grey]({Markup.Escape(rules)})[/]");
        var pairs = diff.SchemaPairs.ToDictionary(p => p.Left, p => p.Right, StringComparer.Ordinal);
        foreach (var schema in diff.Differences.GroupBy(d => d.Schema))
        {
            var schemaTitle = pairs.TryGetValue(schema.Key, out var other) && other != schema.Key ? $"{schema.Key} ↔ {other}" : schema.Key;
            var schemaNode = root.AddNode($"[blue]schema[/] [bold]{Markup.Escape(schemaTitle)}[/]");
            var tableNodes = new Dictionary<string, TreeNode>(StringComparer.Ordinal);
            foreach (var d in schema)
            {
                if (d.Table is null || d.ObjectKind is SchemaObjectKind.Table or SchemaObjectKind.View && d.Kind != DifferenceKind.Changed)
                {
                    schemaNode.AddNode(Leaf(diff, d));
                    continue;
                }

                if (!tableNodes.TryGetValue(d.Table, out var tableNode))
                {
                    tableNodes[d.Table] = tableNode = schemaNode.AddNode($"[aqua]{Markup.Escape(d.Table)}[/]");
                }

                tableNode.AddNode(Leaf(diff, d));
            }
        }

        console.Write(root);
        console.MarkupLine($"[yellow]{diff.Differences.Count} difference{(diff.Differences.Count == 1 ? "" : "s")}[/]");
    }

    private static string Leaf(SchemaDiff diff, SchemaDifference d)
    {
        var what = $"{Words(d.ObjectKind)} {d.Name}";
        return d.Kind switch
        {
            DifferenceKind.OnlyInLeft => $"[red]- {Markup.Escape(what)}[/]: only in {Markup.Escape(diff.Left.Database)} [grey]({Markup.Escape(d.Left ?? "")})[/]",
            DifferenceKind.OnlyInRight => $"[green]+ {Markup.Escape(what)}[/]: only in {Markup.Escape(diff.Right.Database)} [grey]({Markup.Escape(d.Right ?? "")})[/]",
            _ => $"[yellow]~ {Markup.Escape(what)}[/]: {Markup.Escape(d.Property ?? "")} {Markup.Escape(d.Left ?? "(none)")} → {Markup.Escape(d.Right ?? "(none)")}",
        };
    }

    private static string Words(SchemaObjectKind kind) => kind switch
    {
        SchemaObjectKind.PrimaryKey => "primary key",
        SchemaObjectKind.ForeignKey => "foreign key",
        SchemaObjectKind.UniqueConstraint => "unique",
        SchemaObjectKind.CheckConstraint => "check",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private static string Word<T>(T value)
        where T : struct, Enum => value.ToString() switch
        {
            "IgnoreCase" => "ignore-case",
            "IgnoreStyle" => "ignore-style",
            var s => s.ToLowerInvariant(),
        };
}
