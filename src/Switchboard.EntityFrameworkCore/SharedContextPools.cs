using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Npgsql;

namespace Switchboard.EntityFrameworkCore;

/// <summary>
/// Context pools shared by many databases (tenants, shards): one per provider and intent, configured with no connection;
/// each context leased from one is given its database's connection (owned: disposed with the context, so a pooled context
/// never carries one tenant's connection to the next lease).
/// </summary>
internal sealed class SharedContextPools<TContext>(string owner, SwitchboardDbContextOptions options, IServiceProvider services)
    where TContext : DbContext
{
    private readonly ConcurrentDictionary<(string Provider, SessionIntent Intent), Lazy<PooledDbContextFactory<TContext>>> _pools = new();

    /// <summary>Leases a context and gives it <paramref name="connection"/>; on failure the connection is disposed.</summary>
    public TContext Create(DbConnection connection, string database, SessionIntent intent)
    {
        TContext? context = null;
        try
        {
            var provider = connection switch
            {
                NpgsqlConnection => "postgresql",
                SqliteConnection => "sqlite",
                _ => throw new NotSupportedException(
                    $"Database '{database}' of '{owner}' uses {connection.GetType().Name}, for which Switchboard has no EF Core provider built in; "
                    + "tenant and shard contexts support PostgreSQL and SQLite."),
            };
            var pool = _pools.GetOrAdd((provider, intent), static (key, state) => new Lazy<PooledDbContextFactory<TContext>>(
                () => state.Self.CreatePool(key.Provider, key.Intent)), (Self: this, 0)).Value;
            context = pool.CreateDbContext();
            context.Database.SetDbConnection(connection, contextOwnsConnection: true);
            return context;
        }
        catch
        {
            context?.Dispose();
            connection.Dispose();
            throw;
        }
    }

    private PooledDbContextFactory<TContext> CreatePool(string provider, SessionIntent intent)
    {
        var builder = new DbContextOptionsBuilder<TContext>().UseApplicationServiceProvider(services);
        _ = provider == "postgresql" ? builder.UseNpgsql() : builder.UseSqlite();
        if (intent == SessionIntent.ReadOnly)
        {
            builder.UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking).AddInterceptors(ReadOnlySaveChangesInterceptor.Instance);
        }

        options.ConfigureSharedContext?.Invoke(builder, intent);
        return new PooledDbContextFactory<TContext>(builder.Options, options.PoolSize);
    }
}
