namespace Switchboard;

/// <summary>
/// Overrides that flow with async code (an <see cref="AsyncLocal{T}"/>): everything started inside the scope, across
/// <c>await</c>s and into tasks it starts, sees them; code outside does not. Scopes nest; disposing one restores the one
/// around it.
/// <code>
/// using (RoutingScope.UseRole(HostRole.Primary)) { … }      // every session on the primary, reads too
/// using (RoutingScope.UseRole(HostRole.Replica)) { … }      // sessions opened without an intent are read-only
/// using (RoutingScope.UseDatabase("orders_eu")) { … }       // the router chain answers orders_eu
/// </code>
/// </summary>
public sealed class RoutingScope : IDisposable
{
    private static readonly AsyncLocal<RoutingScope?> CurrentScope = new();

    private readonly RoutingScope? _outer;
    private bool _disposed;

    private RoutingScope(RoutingScope? outer, string? database, HostRole? role)
    {
        _outer = outer;
        Database = database ?? outer?.Database;
        Role = role ?? outer?.Role;
    }

    /// <summary>The innermost scope of the current async flow, or null.</summary>
    public static RoutingScope? Current => CurrentScope.Value;

    /// <summary>The database the router chain answers inside this scope, or null to ask the routers.</summary>
    public string? Database { get; }

    /// <summary>The role sessions use inside this scope, or null for each session's own intent.</summary>
    public HostRole? Role { get; }

    /// <summary>
    /// Inside the scope, <see cref="HostRole.Primary"/> sends every session to the primary (read-only ones too, for
    /// example right after a critical write); <see cref="HostRole.Replica"/> makes sessions opened without an explicit
    /// intent read-only, so they go to replicas. An explicit intent always wins.
    /// </summary>
    public static RoutingScope UseRole(HostRole role)
    {
        if (role is not (HostRole.Primary or HostRole.Replica))
        {
            throw new ArgumentOutOfRangeException(nameof(role), role, "a scope uses HostRole.Primary or HostRole.Replica");
        }

        return Enter(null, role);
    }

    /// <summary>Inside the scope, the router chain answers <paramref name="database"/> for every entity type and hint.</summary>
    public static RoutingScope UseDatabase(string database)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(database);
        return Enter(database, null);
    }

    /// <summary>The options of a session opened without explicit options in the current scope.</summary>
    internal static SessionOptions DefaultSessionOptions => Current?.Role == HostRole.Replica ? SessionOptions.ReadOnly : SessionOptions.Default;

    private static RoutingScope Enter(string? database, HostRole? role)
    {
        var scope = new RoutingScope(CurrentScope.Value, database, role);
        CurrentScope.Value = scope;
        return scope;
    }

    /// <summary>Restores the scope that was current when this one began.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            CurrentScope.Value = _outer;
        }
    }

    public override string ToString() => $"RoutingScope(database: {Database ?? "-"}, role: {Role?.ToString() ?? "-"})";
}
