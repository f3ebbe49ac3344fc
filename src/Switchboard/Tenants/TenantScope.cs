namespace Switchboard.Tenants;

/// <summary>
/// The tenant that code is working for, flowing with async calls (an <see cref="AsyncLocal{T}"/>): tasks started
/// inside the scope see it, callers outside do not. Scopes nest; disposing one restores the enclosing scope. A scope
/// <em>locked</em> to its tenant forbids using any other tenant of the same set inside it — nested scopes included
/// (<see cref="TenantScopeLockedException"/>). Begin one with <see cref="TenantSet.BeginScope"/>.
/// </summary>
public sealed class TenantScope : IDisposable
{
    private static readonly AsyncLocal<TenantScope?> Ambient = new();
    private readonly TenantScope? _parent;
    private bool _disposed;

    private TenantScope(TenantSet set, string tenantId, bool isLocked, TenantScope? parent)
    {
        Set = set;
        TenantId = tenantId;
        IsLocked = isLocked;
        _parent = parent;
    }

    public TenantSet Set { get; }

    public string TenantId { get; }

    /// <summary>Whether code inside may not use another tenant of <see cref="Set"/>.</summary>
    public bool IsLocked { get; }

    /// <summary>The tenant's database.</summary>
    public TenantDatabase Database => Set.ForTenant(TenantId);

    internal static TenantScope Begin(TenantSet set, string tenantId, bool isLocked)
    {
        CheckNotLocked(set, tenantId);
        var scope = new TenantScope(set, tenantId, isLocked, Ambient.Value);
        Ambient.Value = scope;
        return scope;
    }

    /// <summary>The innermost scope of a set, or null.</summary>
    internal static TenantScope? Find(TenantSet set)
    {
        for (var scope = Ambient.Value; scope is not null; scope = scope._parent)
        {
            if (scope.Set == set)
            {
                return scope;
            }
        }

        return null;
    }

    /// <summary>Throws when an enclosing scope locked to another tenant of the set is active.</summary>
    internal static void CheckNotLocked(TenantSet set, string tenantId)
    {
        for (var scope = Ambient.Value; scope is not null; scope = scope._parent)
        {
            if (scope.IsLocked && scope.Set == set && !string.Equals(scope.TenantId, tenantId, StringComparison.Ordinal))
            {
                throw new TenantScopeLockedException(set.Name, scope.TenantId, tenantId);
            }
        }
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Ambient.Value = _parent;
        }
    }

    public override string ToString() => $"{Set.Name}/{TenantId}{(IsLocked ? " (locked)" : "")}";
}
