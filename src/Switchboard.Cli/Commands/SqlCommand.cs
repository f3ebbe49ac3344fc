using System.CommandLine;
using System.Data.Common;
using Spectre.Console;
using Switchboard.Sharding;
using Switchboard.Tenants;

namespace Switchboard.Cli.Commands;

/// <summary>
/// <c>switchboard sql TARGET "QUERY"</c>: runs one statement and prints a table, JSON or CSV. TARGET is a database (run in a
/// session and committed), <c>set/tenant</c> (a tenant's database, likewise), or a shard map: with <c>--key K</c> the
/// statement runs on the key's shard like on a database; with <c>--all-shards</c> or <c>--shard DB</c> it runs on the
/// shards in parallel, read-only, and every row carries a <c>shard</c> column.
/// </summary>
internal static class SqlCommand
{
    /// <summary>The column a fan-out adds in front of each row: the database the row came from.</summary>
    public const string ShardColumn = "shard";

    public static Command Create(CliContext context)
    {
        var target = new Argument<string>("target")
        {
            Description = "A database name; set/tenant for a tenant's database; or a shard map name with --key, --all-shards or --shard.",
        };
        var query = new Argument<string>("query") { Description = "The SQL to run (committed when it succeeds; read-only on a fan-out)." };
        var json = CliJson.CreateOption("Print rows as a JSON array of objects.");
        var csv = new Option<bool>("--csv") { Description = "Print rows as CSV with a header line." };
        var readOnly = new Option<bool>("--read-only") { Description = "Run in a read-only transaction." };
        var key = new Option<string?>("--key") { Description = "TARGET is a shard map: run on the shard that holds this key." };
        var keyType = ShardKeyParser.CreateOption();
        var allShards = new Option<bool>("--all-shards") { Description = "TARGET is a shard map: run on every shard in parallel (read-only); rows get a 'shard' column." };
        var shards = new Option<string[]>("--shard")
        {
            Description = "TARGET is a shard map: run on this shard (its database name) in parallel with the other --shard ones. Repeatable.",
            Arity = ArgumentArity.OneOrMore,
        };
        var orderBy = new Option<string?>("--order-by")
        {
            Description = "Fan-out: merge the shards' rows in the order of this column (each shard's SQL must ORDER BY it as well).",
        };
        var descending = new Option<bool>("--desc") { Description = "Fan-out: merge in descending order of --order-by." };
        var limit = new Option<int?>("--limit") { Description = "Fan-out: stop after this many merged rows (write LIMIT in the SQL too, so no shard reads more)." };
        var partial = new Option<bool>("--partial")
        {
            Description = "Fan-out: print the rows of the shards that answered and list the failed shards on stderr (exit 1), instead of failing outright.",
        };
        var command = new Command("sql", "Run a SQL statement on a database, a tenant's database, one shard, or every shard of a shard map, and print the result.")
        {
            target, query, json, csv, readOnly, key, keyType, allShards, shards, orderBy, descending, limit, partial,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(json) && parse.GetValue(csv))
            {
                return await UsageAsync(context, "choose --json or --csv, not both").ConfigureAwait(false);
            }

            var format = parse.GetValue(json) ? ResultFormat.Json : parse.GetValue(csv) ? ResultFormat.Csv : ResultFormat.Table;
            var keyText = parse.GetValue(key);
            var subset = parse.GetValue(shards) ?? [];
            var fanOut = parse.GetValue(allShards) || subset.Length > 0;
            if (keyText is not null && fanOut)
            {
                return await UsageAsync(context, "--key runs on one shard; --all-shards and --shard on several: choose one").ConfigureAwait(false);
            }

            if (!fanOut && (parse.GetValue(orderBy) is not null || parse.GetValue(limit) is not null || parse.GetValue(partial) || parse.GetValue(descending)))
            {
                return await UsageAsync(context, "--order-by, --desc, --limit and --partial apply to a fan-out (--all-shards or --shard)").ConfigureAwait(false);
            }

            if (parse.GetValue(limit) is < 1)
            {
                return await UsageAsync(context, "--limit must be at least 1").ConfigureAwait(false);
            }

            await using var catalog = context.LoadCatalog(parse);
            if (catalog is null)
            {
                return SwitchboardCli.UsageError;
            }

            var name = parse.GetValue(target)!;
            var sql = parse.GetValue(query)!;
            if (fanOut)
            {
                return await FanOutAsync(context, catalog, name, sql, format, subset.Length > 0 ? subset : null, parse.GetValue(orderBy),
                    parse.GetValue(descending), parse.GetValue(limit), parse.GetValue(partial), cancellationToken).ConfigureAwait(false);
            }

            var intent = parse.GetValue(readOnly) ? SessionIntent.ReadOnly : SessionIntent.ReadWrite;
            DatabaseSession session;
            string? where = null;
            try
            {
                if (keyText is not null)
                {
                    var map = catalog.Shards(name);
                    var (shardKey, error) = ShardKeyParser.Parse(keyText, parse.GetValue(keyType)!);
                    if (error is not null)
                    {
                        return await UsageAsync(context, error).ConfigureAwait(false);
                    }

                    var shard = await map.ForKeyAsync(shardKey, cancellationToken).ConfigureAwait(false);
                    where = $"shard {shard.DatabaseName} of shard map {map.Name} ({ShardKeyParser.KindName(shardKey)} key {shardKey})";
                    session = shard.OpenSession(intent);
                }
                else if (name.IndexOf('/', StringComparison.Ordinal) is var slash and > 0)
                {
                    var (setName, tenantId) = (name[..slash], name[(slash + 1)..]);
                    var tenant = catalog.Tenants(setName).ForTenant(tenantId);

                    // A SQLite tenant's file would be created by opening it: a typo must not make an empty tenant.
                    if (!await tenant.ExistsAsync(cancellationToken).ConfigureAwait(false))
                    {
                        await context.Error.WriteLineAsync(
                            $"error: the database of tenant '{tenantId}' of tenant set '{tenant.Set.Name}' does not exist (create it with: switchboard tenants create {tenant.Set.Name} {tenantId})")
                            .ConfigureAwait(false);
                        return SwitchboardCli.Failed;
                    }

                    session = await tenant.OpenSessionAsync(intent == SessionIntent.ReadOnly ? SessionOptions.ReadOnly : SessionOptions.Default, cancellationToken)
                        .ConfigureAwait(false);
                    where = $"tenant {tenantId} of tenant set {tenant.Set.Name}";
                }
                else if (!catalog.Contains(name))
                {
                    var hint = catalog.ShardMapNames.Contains(name, StringComparer.OrdinalIgnoreCase)
                        ? $"'{name}' is a shard map: add --key KEY, --all-shards or --shard DATABASE"
                        : catalog.TenantSetNames.Contains(name, StringComparer.OrdinalIgnoreCase)
                            ? $"'{name}' is a tenant set: write {name}/TENANT"
                            : new UnknownDatabaseException(name, catalog.Names).Message;
                    return await UsageAsync(context, hint).ConfigureAwait(false);
                }
                else
                {
                    session = catalog.OpenSession(name, intent);
                }
            }
            catch (Exception e) when (e is SwitchboardException or ArgumentException or InvalidOperationException && e is not DatabaseCommandException)
            {
                // Unknown shard map, tenant set or shard; an invalid tenant id; a key of the wrong kind for a range map.
                return await UsageAsync(context, CliContext.Describe(e)).ConfigureAwait(false);
            }
            catch (DatabaseCommandException e)
            {
                await context.Error.WriteLineAsync("error: " + CliContext.Describe(e)).ConfigureAwait(false);
                return SwitchboardCli.Failed;
            }

            try
            {
                await using (session.ConfigureAwait(false))
                {
                    var connection = await session.GetConnectionAsync(cancellationToken).ConfigureAwait(false);
                    await using var dbCommand = connection.CreateCommand();
                    dbCommand.Transaction = await session.GetTransactionAsync(cancellationToken).ConfigureAwait(false);
                    dbCommand.CommandText = sql;
                    var results = await ReadAsync(dbCommand, session, cancellationToken).ConfigureAwait(false);
                    await session.CommitAsync(cancellationToken).ConfigureAwait(false);
                    await ResultWriter.WriteAsync(context, format, results).ConfigureAwait(false);
                    if (where is not null && format == ResultFormat.Table)
                    {
                        context.Console.MarkupLine($"[grey]on {Markup.Escape(where)}[/]");
                    }
                }

                return SwitchboardCli.Ok;
            }
            catch (SwitchboardException e)
            {
                await context.Error.WriteLineAsync("error: " + CliContext.Describe(e)).ConfigureAwait(false);
                return SwitchboardCli.Failed;
            }
        });
        return command;
    }

    private static async Task<int> FanOutAsync(CliContext context, SwitchboardCatalog catalog, string mapName, string sql, ResultFormat format,
        string[]? subset, string? orderBy, bool descending, int? limit, bool partial, CancellationToken cancellationToken)
    {
        ShardQuery<object> query;
        try
        {
            var map = catalog.Shards(mapName);
            query = map.Query<object>(sql, null, new FanOutOptions
            {
                Shards = subset,
                FailurePolicy = partial ? ShardFailurePolicy.ReturnPartialResults : ShardFailurePolicy.FailQuery,
            });
        }
        catch (Exception e) when (e is SwitchboardException or ArgumentException)
        {
            return await UsageAsync(context, CliContext.Describe(e)).ConfigureAwait(false);
        }

        if (orderBy is not null)
        {
            query = descending
                ? query.OrderByDescending(r => Column(r, orderBy), ValueComparer.Instance)
                : query.OrderBy(r => Column(r, orderBy), ValueComparer.Instance);
        }

        if (limit is { } n)
        {
            query = query.Take(n);
        }

        ShardQueryResult<object> result;
        try
        {
            result = await query.ToResultAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MissingColumnException e)
        {
            return await UsageAsync(context, CliContext.Describe(e)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SwitchboardException or CrossShardWriteException or InvalidOperationException)
        {
            // A failed shard (named, with its error), a write refused on a read-only fan-out, or rows out of --order-by order.
            await context.Error.WriteLineAsync("error: " + CliContext.Describe(e)).ConfigureAwait(false);
            return SwitchboardCli.Failed;
        }

        // Columns in the order of the first row that has them (every shard runs the same statement).
        var columns = new List<string> { ShardColumn };
        foreach (var row in result.Rows)
        {
            foreach (var column in Fields(row.Row).Keys)
            {
                if (!columns.Contains(column, StringComparer.Ordinal))
                {
                    columns.Add(column);
                }
            }
        }

        var rows = result.Rows.Select(r =>
        {
            var fields = Fields(r.Row);
            return columns.Select((c, i) => i == 0 ? r.Shard.DatabaseName : fields.TryGetValue(c, out var v) ? v : null).ToArray();
        }).ToList();
        await ResultWriter.WriteAsync(context, format, columns, rows, 0).ConfigureAwait(false);
        foreach (var failure in result.Failures)
        {
            await context.Error.WriteLineAsync($"error: shard {failure.Shard.DatabaseName} failed: {failure.Error.Message}").ConfigureAwait(false);
        }

        return result.IsComplete ? SwitchboardCli.Ok : SwitchboardCli.Failed;
    }

    private static IDictionary<string, object?> Fields(object? row) =>
        row as IDictionary<string, object?> ?? new Dictionary<string, object?>(); // Dapper's untyped rows are dictionaries

    private static object? Column(object row, string column) =>
        Fields(row).TryGetValue(column, out var value) ? value
        : throw new MissingColumnException($"--order-by {column}: the result has no column '{column}' (columns: {string.Join(", ", Fields(row).Keys)})");

    private static async Task<int> UsageAsync(CliContext context, string message)
    {
        await context.Error.WriteLineAsync("error: " + message).ConfigureAwait(false);
        return SwitchboardCli.UsageError;
    }

    /// <summary>Every result of the statement text (a text with several statements has several).</summary>
    private static async Task<List<StatementResult>> ReadAsync(DbCommand command, DatabaseSession session, CancellationToken cancellationToken)
    {
        try
        {
            var results = new List<StatementResult>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            do
            {
                results.Add(await ReadResultAsync(reader, cancellationToken).ConfigureAwait(false));
            }
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));

            // Drivers count affected rows over the whole text; without rows, one result says it.
            if (results.All(r => r.Columns.Count == 0))
            {
                return [new StatementResult([], [], reader.RecordsAffected)];
            }

            return [.. results.Where(r => r.Columns.Count > 0)];
        }
        catch (DbException e)
        {
            throw new SwitchboardException($"the statement failed on database '{session.DatabaseName}' at {session.Target}: {e.Message}", e);
        }
    }

    private static async Task<StatementResult> ReadResultAsync(DbDataReader reader, CancellationToken cancellationToken)
    {
        var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var values = new object?[reader.FieldCount];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = await reader.IsDBNullAsync(i, cancellationToken).ConfigureAwait(false) ? null : reader.GetValue(i);

                // Drivers hand a DATE column over as a DateTime at midnight: show it as the date it is.
                if (values[i] is DateTime day && string.Equals(reader.GetDataTypeName(i), "date", StringComparison.OrdinalIgnoreCase))
                {
                    values[i] = DateOnly.FromDateTime(day);
                }
            }

            rows.Add(values);
        }

        return new StatementResult(columns, rows, -1);
    }

    /// <summary>--order-by names a column the rows do not have.</summary>
    private sealed class MissingColumnException(string message) : Exception(message);

    /// <summary>
    /// Orders column values across shards: NULLs first, numbers by value whatever their CLR type (SQLite gives Int64 where
    /// PostgreSQL gives Int32), everything else by its own comparison.
    /// </summary>
    private sealed class ValueComparer : IComparer<object?>
    {
        public static ValueComparer Instance { get; } = new();

        public int Compare(object? x, object? y)
        {
            if (x is null || y is null)
            {
                return (x is null ? 0 : 1) - (y is null ? 0 : 1);
            }

            if (IsNumber(x) && IsNumber(y) && x.GetType() != y.GetType())
            {
                return x is double or float || y is double or float
                    ? Convert.ToDouble(x, System.Globalization.CultureInfo.InvariantCulture).CompareTo(Convert.ToDouble(y, System.Globalization.CultureInfo.InvariantCulture))
                    : Convert.ToDecimal(x, System.Globalization.CultureInfo.InvariantCulture).CompareTo(Convert.ToDecimal(y, System.Globalization.CultureInfo.InvariantCulture));
            }

            return x is string a && y is string b ? string.CompareOrdinal(a, b) : Comparer<object>.Default.Compare(x, y);
        }

        private static bool IsNumber(object value) => value is byte or sbyte or short or ushort or int or uint or long or ulong or decimal or double or float;
    }
}
