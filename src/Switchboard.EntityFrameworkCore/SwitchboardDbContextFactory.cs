using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Switchboard.EntityFrameworkCore;

/// <summary>
/// One EF Core context pool per intent, each built once, on first use. The provider gets the engine's own data source for
/// that intent (<see cref="SwitchboardDbTarget.DataSource"/>: on a replicated database, read-only contexts' connections go
/// to replicas and read-write ones to the primary), so contexts share the driver's pools with Switchboard sessions and cost
/// no more than a context configured on the driver directly.
/// </summary>
internal sealed class SwitchboardDbContextFactory<TContext>(SwitchboardCatalog catalog, string database, SwitchboardDbContextOptions options,
    IServiceProvider services) : ISwitchboardDbContextFactory<TContext>
    where TContext : DbContext
{
    private readonly Lazy<IDbContextFactory<TContext>> _readWrite = new(() => CreatePool(catalog, database, SessionIntent.ReadWrite, options, services), LazyThreadSafetyMode.PublicationOnly);
    private readonly Lazy<IDbContextFactory<TContext>> _readOnly = new(() => CreatePool(catalog, database, SessionIntent.ReadOnly, options, services), LazyThreadSafetyMode.PublicationOnly);

    public string Database => database;

    public TContext CreateDbContext() => CreateDbContext(SessionIntent.ReadWrite);

    public TContext CreateDbContext(SessionIntent intent)
    {
        var context = (intent == SessionIntent.ReadOnly ? _readOnly : _readWrite).Value.CreateDbContext();
        var engine = catalog.GetEngine(database);
        if (engine.IsReplicated)
        {
            // A pooled context keeps its connection object from one lease to the next, and that object belongs to the host
            // chosen when it was created. A fresh one per lease makes each context choose again: another replica for reads,
            // the current primary (after a failover) for writes.
            var source = intent == SessionIntent.ReadOnly ? engine.ReadOnlyDataSource : engine.DataSource;
            try
            {
                context.Database.SetDbConnection(source.CreateConnection(), contextOwnsConnection: true);
            }
            catch
            {
                context.Dispose();
                throw;
            }
        }

        return context;
    }

    private static PooledDbContextFactory<TContext> CreatePool(SwitchboardCatalog catalog, string database, SessionIntent intent,
        SwitchboardDbContextOptions options, IServiceProvider services)
    {
        var target = new SwitchboardDbTarget(catalog.GetDefinition(database).Name, intent, catalog.GetEngine(database));
        var builder = new DbContextOptionsBuilder<TContext>().UseApplicationServiceProvider(services);
        if (options.UseProvider is { } useProvider)
        {
            useProvider(builder, target);
        }
        else
        {
            UseBuiltInProvider(builder, target);
        }

        if (intent == SessionIntent.ReadOnly)
        {
            builder.UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking).AddInterceptors(ReadOnlySaveChangesInterceptor.Instance);
        }

        options.ConfigureContext?.Invoke(builder, target);
        return new PooledDbContextFactory<TContext>(builder.Options, options.PoolSize);
    }

    private static void UseBuiltInProvider(DbContextOptionsBuilder builder, SwitchboardDbTarget target)
    {
        switch (target.Dialect.Name)
        {
            case "postgresql":
                builder.UseNpgsql(target.DataSource);
                break;
            case "sqlite":
                // Microsoft.Data.Sqlite has no data source of its own, so EF Core gets the connection string (same driver pool).
                // One checkout through the engine first creates the file's folder and sets its journal mode, as sessions do.
                target.Engine.OpenConnection().Dispose();
                var connection = new SqliteConnectionStringBuilder(target.Engine.Definition.Connection.ConnectionString);
                if (target.Intent == SessionIntent.ReadOnly && connection.Mode != SqliteOpenMode.Memory)
                {
                    connection.Mode = SqliteOpenMode.ReadOnly; // the file itself refuses writes
                }

                builder.UseSqlite(connection.ConnectionString);
                break;
            default:
                throw new NotSupportedException(
                    $"Database '{target.Database}' is {target.Dialect.Name}, for which Switchboard has no EF Core provider built in "
                    + "(no MySQL/MariaDB provider such as Pomelo is available here). Set SwitchboardDbContextOptions.UseProvider to configure one, "
                    + "for example (o, t) => o.UseMySql(t.DataSource, serverVersion).");
        }
    }
}
