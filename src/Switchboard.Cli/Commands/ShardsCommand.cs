using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Switchboard.Sharding;

namespace Switchboard.Cli.Commands;

/// <summary>
/// <c>switchboard shards list</c> (the shard maps and their shards) and <c>switchboard shards locate MAP KEY…</c> (which
/// shard holds each key, as the application would compute it).
/// </summary>
internal static class ShardsCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("shards", "Inspect the shard maps of the \"Shards\" section: list them, or find the shard of a key.");
        command.Subcommands.Add(List(context));
        command.Subcommands.Add(Locate(context));
        return command;
    }

    private static Command List(CliContext context)
    {
        var json = CliJson.CreateOption();
        var command = new Command("list", "List every shard map: strategy, shards in order, and where each shard's database is.") { json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var catalog = context.LoadCatalog(parse);
            if (catalog is null)
            {
                return SwitchboardCli.UsageError;
            }

            var maps = catalog.ShardMapNames.Select(catalog.Shards).ToList();
            if (parse.GetValue(json))
            {
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(maps.Select(m => new
                {
                    name = m.Name,
                    strategy = m.Strategy.ToString().ToLowerInvariant(),
                    maxParallelism = m.MaxParallelism,
                    shards = m.Shards.Select(s => new { index = s.Index, database = s.DatabaseName, target = catalog.GetDefinition(s.DatabaseName).Target }),
                }), CliJson.Options)).ConfigureAwait(false);
                return SwitchboardCli.Ok;
            }

            if (maps.Count == 0)
            {
                context.Console.MarkupLine($"No shard maps in {Markup.Escape(context.ConfigurationSource)} (add a \"Shards\" section).");
                return SwitchboardCli.Ok;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumns("Shard map", "Strategy", "#", "Database", "Target");
            foreach (var map in maps)
            {
                foreach (var shard in map.Shards)
                {
                    table.AddRow(
                        shard.Index == 0 ? Markup.Escape(map.Name) : "",
                        shard.Index == 0 ? map.Strategy.ToString().ToLowerInvariant() : "",
                        shard.Index.ToString(CultureInfo.InvariantCulture),
                        Markup.Escape(shard.DatabaseName),
                        Markup.Escape(catalog.GetDefinition(shard.DatabaseName).Target));
                }
            }

            context.Console.Write(table);
            context.Console.MarkupLine($"[grey]Configuration: {Markup.Escape(context.ConfigurationSource)}[/]");
            return SwitchboardCli.Ok;
        });
        return command;
    }

    private static Command Locate(CliContext context)
    {
        var mapArgument = new Argument<string>("map") { Description = "The shard map." };
        var keys = new Argument<string[]>("keys") { Description = "One or more shard keys.", Arity = ArgumentArity.OneOrMore };
        var keyType = ShardKeyParser.CreateOption();
        var json = CliJson.CreateOption();
        var command = new Command("locate", "Show which shard holds each key (a lookup map reads its directory table).") { mapArgument, keys, keyType, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var catalog = context.LoadCatalog(parse);
            if (catalog is null)
            {
                return SwitchboardCli.UsageError;
            }

            ShardMap map;
            try
            {
                map = catalog.Shards(parse.GetValue(mapArgument)!);
            }
            catch (UnknownShardMapException e)
            {
                await context.Error.WriteLineAsync("error: " + CliContext.Describe(e)).ConfigureAwait(false);
                return SwitchboardCli.UsageError;
            }

            var located = new List<(string Text, ShardKey Key, Shard Shard)>();
            foreach (var text in parse.GetValue(keys)!)
            {
                var (key, error) = ShardKeyParser.Parse(text, parse.GetValue(keyType)!);
                if (error is not null)
                {
                    await context.Error.WriteLineAsync("error: " + error).ConfigureAwait(false);
                    return SwitchboardCli.UsageError;
                }

                try
                {
                    located.Add((text, key, await map.ForKeyAsync(key, cancellationToken).ConfigureAwait(false)));
                }
                catch (ArgumentException e)
                {
                    // A key of the other kind for a range map.
                    await context.Error.WriteLineAsync($"error: key '{text}': {CliContext.Describe(e)}").ConfigureAwait(false);
                    return SwitchboardCli.UsageError;
                }
                catch (SwitchboardException e)
                {
                    // A lookup map: no row for the key, or its directory database cannot be reached.
                    await context.Error.WriteLineAsync("error: " + CliContext.Describe(e)).ConfigureAwait(false);
                    return SwitchboardCli.Failed;
                }
            }

            if (parse.GetValue(json))
            {
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(located.Select(l => new
                {
                    key = l.Text,
                    kind = ShardKeyParser.KindName(l.Key),
                    map = map.Name,
                    shard = l.Shard.Index,
                    database = l.Shard.DatabaseName,
                    target = catalog.GetDefinition(l.Shard.DatabaseName).Target,
                }), CliJson.Options)).ConfigureAwait(false);
                return SwitchboardCli.Ok;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumns("Key", "Kind", "Shard", "Database", "Target");
            foreach (var (text, key, shard) in located)
            {
                table.AddRow(Markup.Escape(text), ShardKeyParser.KindName(key), shard.Index.ToString(CultureInfo.InvariantCulture),
                    Markup.Escape(shard.DatabaseName), Markup.Escape(catalog.GetDefinition(shard.DatabaseName).Target));
            }

            context.Console.Write(table);
            context.Console.MarkupLine($"[grey]shard map {Markup.Escape(map.Name)} ({map.Strategy.ToString().ToLowerInvariant()}, {map.Shards.Count} shards)[/]");
            return SwitchboardCli.Ok;
        });
        return command;
    }
}
