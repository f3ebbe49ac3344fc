using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Switchboard.Reflection;

namespace Switchboard.Cli.Commands;

/// <summary>
/// <c>switchboard schema DATABASE [--schema S] [--table T…] [--json]</c>: reflects a database and prints a coloured
/// tree, or the documented JSON form (docs/reflection.md).
/// </summary>
internal static class SchemaCommand
{
    public static Command Create(CliContext context)
    {
        var database = new Argument<string>("database") { Description = "The configured name of the database." };
        var schema = new Option<string?>("--schema", "-s") { Description = "Only this schema (default: the database's own schemas)." };
        var tables = new Option<string[]>("--table", "-t")
        {
            Description = "Only these tables or views (repeat the option for several).",
            AllowMultipleArgumentsPerToken = true,
        };
        var json = CliJson.CreateOption("Print the JSON form instead of a tree.");
        var constraintIndexes = new Option<bool>("--constraint-indexes")
        {
            Description = "Also list indexes that only back a primary key or unique constraint.",
        };
        var command = new Command("schema", "Show the tables, views, columns, keys, constraints and indexes of a database.")
        {
            database, schema, tables, json, constraintIndexes,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
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

            var options = new ReflectionOptions
            {
                Schema = parse.GetValue(schema),
                Tables = parse.GetValue(tables) is { Length: > 0 } t ? t : null,
                IncludeConstraintIndexes = parse.GetValue(constraintIndexes),
            };
            DatabaseSchema reflected;
            try
            {
                reflected = await catalog.GetEngine(name).ReflectAsync(options, cancellationToken).ConfigureAwait(false);
            }
            catch (SchemaObjectNotFoundException e)
            {
                await context.Error.WriteLineAsync("error: " + CliContext.Describe(e)).ConfigureAwait(false);
                return SwitchboardCli.UsageError;
            }
            catch (SwitchboardException e)
            {
                await context.Error.WriteLineAsync("error: " + CliContext.Describe(e)).ConfigureAwait(false);
                return SwitchboardCli.Failed;
            }

            if (parse.GetValue(json))
            {
                await context.Out.WriteLineAsync(SchemaJson.Serialize(reflected)).ConfigureAwait(false);
            }
            else
            {
                context.Console.Write(SchemaTree.Render(reflected));
                var stats = reflected.Statistics;
                var summary = string.Create(CultureInfo.InvariantCulture,
                    $"{reflected.AllTables.Count()} table(s), {reflected.Schemas.Sum(s => s.Views.Count)} view(s); {stats?.QueryCount} queries in {stats?.Elapsed.TotalMilliseconds:0} ms");
                context.Console.MarkupLine("[grey]" + Markup.Escape(summary) + "[/]");
            }

            return SwitchboardCli.Ok;
        });
        return command;
    }
}

/// <summary>The readable tree of a reflected database.</summary>
internal static class SchemaTree
{
    public static Tree Render(DatabaseSchema database)
    {
        var root = new Tree($"[bold]{Markup.Escape(database.Database)}[/] [grey]({Markup.Escape(database.Dialect)} {Markup.Escape(database.ServerVersion ?? "")})[/]");
        foreach (var schema in database.Schemas)
        {
            var node = root.AddNode($"[blue]schema[/] [bold]{Markup.Escape(schema.Name)}[/]");
            foreach (var table in schema.Tables)
            {
                AddTable(node, table);
            }

            foreach (var view in schema.Views)
            {
                var viewNode = node.AddNode($"[blue]{(view.Materialized ? "materialized view" : "view")}[/] [bold aqua]{Markup.Escape(view.Name)}[/]{Comment(view.Comment)}");
                foreach (var column in view.Columns)
                {
                    viewNode.AddNode(ColumnText(column, inPrimaryKey: false));
                }

                if (view.Definition is { } definition)
                {
                    viewNode.AddNode($"[grey]as {Markup.Escape(Shorten(definition))}[/]");
                }
            }

            foreach (var e in schema.Enums)
            {
                node.AddNode($"[blue]enum[/] [bold]{Markup.Escape(e.Name)}[/] [grey]{Markup.Escape(string.Join(", ", e.Values.Select(v => "'" + v + "'")))}[/]");
            }

            foreach (var d in schema.Domains)
            {
                var checks = string.Concat(d.CheckConstraints.Select(c => $" check {c.Expression}"));
                node.AddNode($"[blue]domain[/] [bold]{Markup.Escape(d.Name)}[/] [yellow]{Markup.Escape(d.Type)}[/]" +
                    $"{(d.Nullable ? "" : " [red]not null[/]")}{(d.Default is { } def ? " [grey]default " + Markup.Escape(def) + "[/]" : "")}[grey]{Markup.Escape(checks)}[/]");
            }
        }

        return root;
    }

    private static void AddTable(TreeNode parent, TableInfo table)
    {
        var node = parent.AddNode($"[blue]table[/] [bold aqua]{Markup.Escape(table.Name)}[/]{Comment(table.Comment)}");
        var keyColumns = table.PrimaryKey?.Columns.ToHashSet(StringComparer.Ordinal) ?? [];
        foreach (var column in table.Columns)
        {
            node.AddNode(ColumnText(column, keyColumns.Contains(column.Name)));
        }

        if (table.PrimaryKey is { } pk)
        {
            node.AddNode($"[green]primary key[/] {Name(pk.Name)}{Columns(pk.Columns)}");
        }

        foreach (var fk in table.ForeignKeys)
        {
            var target = (fk.ReferencedSchema is { } s ? s + "." : "") + fk.ReferencedTable;
            var actions = (fk.OnDelete != "NO ACTION" ? $" on delete {fk.OnDelete}" : "") + (fk.OnUpdate != "NO ACTION" ? $" on update {fk.OnUpdate}" : "")
                + (fk.Deferrable ? fk.InitiallyDeferred ? " deferrable initially deferred" : " deferrable" : "");
            node.AddNode($"[green]foreign key[/] {Name(fk.Name)}{Columns(fk.Columns)} → [aqua]{Markup.Escape(target)}[/] {Columns(fk.ReferencedColumns)}[grey]{Markup.Escape(actions)}[/]");
        }

        foreach (var unique in table.UniqueConstraints)
        {
            node.AddNode($"[green]unique[/] {Name(unique.Name)}{Columns(unique.Columns)}");
        }

        foreach (var check in table.CheckConstraints)
        {
            node.AddNode($"[green]check[/] {Name(check.Name)}[grey]{Markup.Escape(check.Expression)}[/]");
        }

        foreach (var index in table.Indexes)
        {
            node.AddNode($"[green]{(index.Unique ? "unique index" : "index")}[/] {Name(index.Name)}" +
                $"[grey]({Markup.Escape(string.Join(", ", index.Columns))}){(index.Predicate is { } p ? " where " + Markup.Escape(p) : "")}[/]");
        }
    }

    private static string ColumnText(ColumnInfo column, bool inPrimaryKey)
    {
        var tags = new List<string>();
        if (inPrimaryKey)
        {
            tags.Add("[yellow]PK[/]");
        }

        if (!column.Nullable)
        {
            tags.Add("[red]not null[/]");
        }

        if (column.Identity is { } identity)
        {
            tags.Add($"[magenta]identity {(identity.Always ? "always" : "by default")}[/]");
        }
        else if (column.AutoIncrement)
        {
            tags.Add("[magenta]auto-increment[/]");
        }

        if (column.Generated is { } generated)
        {
            tags.Add($"[magenta]generated {(generated.Stored ? "stored" : "virtual")}[/] [grey]{Markup.Escape(generated.Expression)}[/]");
        }
        else if (column.Default is { } value && !column.AutoIncrement)
        {
            tags.Add($"[grey]default {Markup.Escape(value)}[/]");
        }

        if (column.OnUpdate is { } onUpdate)
        {
            tags.Add($"[grey]on update {Markup.Escape(onUpdate)}[/]");
        }

        if (column.Collation is { } collation)
        {
            tags.Add($"[grey]collate {Markup.Escape(collation)}[/]");
        }

        // The family only when the declared type does not already say it (integer, but NVARCHAR(160) → string).
        var type = column.Type.Length == 0 ? "(untyped)" : column.Type;
        var family = column.TypeFamily.ToString().ToLowerInvariant();
        var familyText = type.StartsWith(family, StringComparison.OrdinalIgnoreCase) ? "" : $" [grey]{family}[/]";
        return $"{Markup.Escape(column.Name)} [yellow]{Markup.Escape(type)}[/]{familyText}"
            + (tags.Count > 0 ? " " + string.Join(" ", tags) : "") + Comment(column.Comment);
    }

    private static string Name(string? name) => name is null ? "" : Markup.Escape(name) + " ";

    private static string Columns(IEnumerable<string> columns) => "(" + Markup.Escape(string.Join(", ", columns)) + ")";

    private static string Comment(string? comment) => comment is null ? "" : $" [italic grey]-- {Markup.Escape(comment)}[/]";

    private static string Shorten(string text)
    {
        var flat = string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return flat.Length <= 120 ? flat : flat[..117] + "...";
    }
}
