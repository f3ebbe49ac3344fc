using Microsoft.EntityFrameworkCore;

namespace Switchboard.EntityFrameworkCore;

/// <summary>How <c>AddSwitchboardDbContext</c> builds the contexts of one type.</summary>
public sealed class SwitchboardDbContextOptions
{
    /// <summary>Most contexts kept for reuse per intent (EF Core's context pooling). Default 1024.</summary>
    public int PoolSize { get; set; } = 1024;

    /// <summary>
    /// Configures the EF Core provider instead of the built-in choice (Npgsql for PostgreSQL, SQLite for SQLite). Needed for
    /// MySQL/MariaDB, which has no EF Core provider here: for example <c>(o, t) => o.UseMySql(t.DataSource, version)</c> with Pomelo.
    /// </summary>
    public Action<DbContextOptionsBuilder, SwitchboardDbTarget>? UseProvider { get; set; }

    /// <summary>Further options after the provider is configured (logging, interceptors, provider options).</summary>
    public Action<DbContextOptionsBuilder, SwitchboardDbTarget>? ConfigureContext { get; set; }
}
