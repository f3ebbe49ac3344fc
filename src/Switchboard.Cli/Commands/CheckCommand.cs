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
        var json = CliJson.CreateOption();
        var command = new Command("check", "Connect to every configured database and report version, latency and pool; for a replicated database, each host's role, lag and circuit breaker; then the shard maps (which shards are reachable) and tenant sets.") { json };
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
                    hosts = r.Hosts?.Select(h => new
                    {
                        target = h.Target,
                        role = h.Role.ToString().ToLowerInvariant(),
                        primary = h.IsPrimary,
                        reachable = h.IsReachable,
                        lagMs = h.Lag?.TotalMilliseconds,
                        position = h.Position,
                        breaker = h.Breaker.ToString().ToLowerInvariant(),
                        breakerRetryAfterMs = h.BreakerRetryAfter?.TotalMilliseconds,
                        inUse = h.InUse,
                        checkMs = h.Latency?.TotalMilliseconds,
                        note = h.Error,
                    }),
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
                foreach (var r in results.Where(r => r.Hosts is { Count: > 0 }))
                {
                    // A replicated database: one row per host, as the monitor saw it just now.
                    var hosts = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(r.Name) + " hosts")
                        .AddColumns("Host", "Role", "Lag", "Position", "Check", "In use", "Breaker", "Note");
                    foreach (var h in r.Hosts!)
                    {
                        hosts.AddRow(
                            Markup.Escape(h.Target),
                            HostRole(h),
                            h.Lag is { } lag ? Milliseconds(lag) : "-",
                            Markup.Escape(h.Position ?? "-"),
                            h.Latency is { } check ? Milliseconds(check) : "-",
                            h.InUse.ToString(CultureInfo.InvariantCulture),
                            Breaker(h),
                            Markup.Escape(h.Error ?? ""));
                    }

                    context.Console.Write(hosts);
                }
                WriteShardMaps(context, catalog, results);
                if (catalog.TenantSetNames.Count > 0)
                {
                    context.Console.Write(TenantsCommand.Table(catalog.TenantSetNames.Select(catalog.Tenants)));
                }

                context.Console.MarkupLine($"[grey]Configuration: {Markup.Escape(context.ConfigurationSource)}[/]");
            }

            return results.All(r => r.Ok) ? SwitchboardCli.Ok : SwitchboardCli.Failed;
        });
        return command;
    }

    /// <summary>One row per shard map: its shards in order, and which of them the check above could reach.</summary>
    private static void WriteShardMaps(CliContext context, SwitchboardCatalog catalog, IReadOnlyList<DatabaseCheckResult> results)
    {
        if (catalog.ShardMapNames.Count == 0)
        {
            return;
        }

        var ok = results.ToDictionary(r => r.Name, r => r.Ok, StringComparer.OrdinalIgnoreCase);
        var table = new Table().Border(TableBorder.Rounded).AddColumns("Shard map", "Strategy", "Shards", "Reachable", "Status");
        foreach (var map in catalog.ShardMapNames.Select(catalog.Shards))
        {
            var down = map.Shards.Where(s => !ok.GetValueOrDefault(s.DatabaseName)).Select(s => s.DatabaseName).ToList();
            table.AddRow(
                Markup.Escape(map.Name),
                map.Strategy.ToString().ToLowerInvariant(),
                Markup.Escape(string.Join(", ", map.Shards.Select(s => s.DatabaseName))),
                $"{map.Shards.Count - down.Count}/{map.Shards.Count}",
                down.Count == 0 ? "[green]OK[/]" : "[red]ERROR[/] unreachable: " + Markup.Escape(string.Join(", ", down)));
        }

        context.Console.Write(table);
    }

    private static string Milliseconds(TimeSpan value) => value.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    private static string HostRole(HostStatus h) =>
        !h.IsReachable ? "[red]unreachable[/]" : h.IsPrimary ? "[bold]primary[/]" : h.Role.ToString().ToLowerInvariant();

    private static string Breaker(HostStatus h) => h.Breaker switch
    {
        BreakerState.Open => string.Create(CultureInfo.InvariantCulture, $"[red]open[/] ({(h.BreakerRetryAfter ?? TimeSpan.Zero).TotalSeconds:0.0} s)"),
        BreakerState.HalfOpen => "[yellow]half-open[/]",
        _ => "closed",
    };
}

internal static class CliJson
{
    // Written to a terminal or a file, never into HTML: apostrophes and non-ASCII text stay readable ("'orders'", not "\u0027orders\u0027").
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The <c>--json</c> flag every command that prints results takes; a table is what they print otherwise.</summary>
    public static Option<bool> CreateOption(string description = "Print JSON instead of a table.") => new("--json") { Description = description };
}
