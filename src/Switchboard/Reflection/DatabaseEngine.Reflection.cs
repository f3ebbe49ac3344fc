using System.Data.Common;
using System.Diagnostics;
using Switchboard.Internal;
using Switchboard.Reflection;

namespace Switchboard;

public sealed partial class DatabaseEngine
{
    /// <summary>
    /// Reflects the database (all of it, one schema, or chosen tables) into an immutable <see cref="DatabaseSchema"/>.
    /// The number of queries does not grow with the number of tables. Throws <see cref="SchemaObjectNotFoundException"/>
    /// when a requested schema or table does not exist, <see cref="DatabaseCommandException"/> when a query fails.
    /// </summary>
    public DatabaseSchema Reflect(ReflectionOptions? options = null) =>
        ReflectAsync(options ?? ReflectionOptions.Default, IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    /// <inheritdoc cref="Reflect"/>
    public ValueTask<DatabaseSchema> ReflectAsync(ReflectionOptions? options = null, CancellationToken cancellationToken = default) =>
        ReflectAsync(options ?? ReflectionOptions.Default, IOBehavior.Asynchronous, cancellationToken);

    /// <summary>A schema inspector over this engine that caches what it has reflected (SQLAlchemy's <c>inspect(engine)</c>).</summary>
    public SchemaInspector CreateInspector() => new(this);

    internal async ValueTask<DatabaseSchema> ReflectAsync(ReflectionOptions options, IOBehavior io, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!Dialect.SupportsReflection)
        {
            throw new NotSupportedException($"Database '{Name}': the {Dialect.Name} dialect cannot reflect schemas.");
        }

        var started = Stopwatch.GetTimestamp();
        var connection = await OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
        DatabaseSchema raw;
        int queries;
        try
        {
            var context = new ReflectionContext(connection, Definition, ServerVersion, options, io, cancellationToken);
            raw = await Dialect.ReflectAsync(context).ConfigureAwait(false);
            queries = context.QueryCount;
        }
        catch (Exception e) when (e is DbException and not SwitchboardException or TimeoutException)
        {
            throw new DatabaseCommandException(Name, "Schema reflection", Dialect.Classify(e), e, Definition.Secrets, Definition.Target);
        }
        finally
        {
            await CloseAsync(connection, io).ConfigureAwait(false);
        }

        var schema = SchemaNormalizer.Normalize(raw, options) with
        {
            Database = Name,
            Dialect = Dialect.Name,
            ServerVersion = ServerVersion ?? raw.ServerVersion,
            Statistics = new ReflectionStatistics(queries, Stopwatch.GetElapsedTime(started)),
        };
        if (options.Schema is { } wanted && schema.FindSchema(wanted) is null)
        {
            // Only on this error path: list the schemas there are, so the message can suggest the intended one.
            var all = await ReflectAsync(new ReflectionOptions { Tables = [], IncludeViews = false }, io, cancellationToken).ConfigureAwait(false);
            throw new SchemaObjectNotFoundException(Name, Definition.Target, "schema", [wanted], all.Schemas.Select(s => s.Name).ToList());
        }

        if (MissingTables(schema, options) is { Count: > 0 } missing)
        {
            // Only on this error path: list everything once more, so the message can suggest the intended name.
            var all = await ReflectAsync(options with { Tables = null, IncludeViews = true }, io, cancellationToken).ConfigureAwait(false);
            var names = all.Schemas.SelectMany(s => s.Tables.Select(t => t.Name).Concat(s.Views.Select(v => v.Name))).ToList();
            throw new SchemaObjectNotFoundException(Name, Definition.Target, "table or view", missing, names);
        }

        return schema;
    }

    private static List<string>? MissingTables(DatabaseSchema schema, ReflectionOptions options)
    {
        if (options.Tables is not { Count: > 0 } tables)
        {
            return null;
        }

        var found = schema.Schemas.SelectMany(s => s.Tables.Select(t => t.Name).Concat(s.Views.Select(v => v.Name))).ToHashSet(StringComparer.Ordinal);
        return tables.Where(t => !found.Contains(t)).Distinct(StringComparer.Ordinal).ToList();
    }
}
