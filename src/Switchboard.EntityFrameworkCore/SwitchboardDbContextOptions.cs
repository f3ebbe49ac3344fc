using Microsoft.EntityFrameworkCore;

namespace Switchboard.EntityFrameworkCore;

/// <summary>How <c>AddSwitchboardDbContext</c> builds the contexts of one type.</summary>
public sealed class SwitchboardDbContextOptions
{
    /// <summary>Most contexts kept for reuse per intent (EF Core's context pooling; for tenant and shard contexts, per provider and intent). Default 1024.</summary>
    public int PoolSize { get; set; } = 1024;

    /// <summary>
    /// Configures the EF Core provider instead of the built-in choice (Npgsql for PostgreSQL, SQLite for SQLite). Needed for
    /// MySQL/MariaDB, which has no EF Core provider here: for example <c>(o, t) => o.UseMySql(t.DataSource, version)</c> with Pomelo.
    /// </summary>
    public Action<DbContextOptionsBuilder, SwitchboardDbTarget>? UseProvider { get; set; }

    /// <summary>Further options after the provider is configured (logging, interceptors, provider options).</summary>
    public Action<DbContextOptionsBuilder, SwitchboardDbTarget>? ConfigureContext { get; set; }

    /// <summary>
    /// For tenant and shard contexts (<c>AddSwitchboardTenantDbContext</c>, <c>AddSwitchboardShardDbContext</c>), whose one
    /// pool per intent serves every tenant or shard: further options after the provider is configured. The provider is
    /// chosen from the connection (PostgreSQL or SQLite); <see cref="UseProvider"/> and <see cref="ConfigureContext"/> do
    /// not apply to them.
    /// </summary>
    public Action<DbContextOptionsBuilder, SessionIntent>? ConfigureSharedContext { get; set; }
}
