using System.Collections.Frozen;
using Switchboard.Internal;
using Switchboard.Tenants;

namespace Switchboard;

public sealed partial class SwitchboardCatalog
{
    private FrozenDictionary<string, TenantSet> _tenantSets = FrozenDictionary<string, TenantSet>.Empty;
    private IReadOnlyList<ConnectionLimiter> _limiters = [];

    /// <summary>The configured tenant set names, sorted (once: every distributed transaction's begin reads them).</summary>
    public IReadOnlyList<string> TenantSetNames { get; private set; } = [];

    /// <summary>A tenant set (a database per tenant); throws <see cref="UnknownTenantSetException"/> listing the sets.</summary>
    public TenantSet Tenants(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return _tenantSets.TryGetValue(name, out var set) ? set : throw new UnknownTenantSetException(name, TenantSetNames);
    }

    /// <summary>A tenant's database in the catalog's only tenant set (with several sets, use <c>Tenants(name).ForTenant(id)</c>).</summary>
    public TenantDatabase ForTenant(string tenantId)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return _tenantSets.Count == 1
            ? _tenantSets.Values[0].ForTenant(tenantId)
            : throw new InvalidOperationException(_tenantSets.Count == 0
                ? "The catalog has no tenant set: add a \"Tenants\" section or call AddTenants."
                : $"The catalog has {_tenantSets.Count} tenant sets ({string.Join(", ", TenantSetNames)}): use Tenants(name).ForTenant(tenantId).");
    }

    internal void AttachTenantSets(IEnumerable<TenantSet> sets, IEnumerable<ConnectionLimiter> limiters)
    {
        _tenantSets = sets.ToFrozenDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);
        TenantSetNames = [.. _tenantSets.Keys.Order(StringComparer.OrdinalIgnoreCase)];
        _limiters = [.. limiters];
    }

    private void DisposeTenants()
    {
        foreach (var set in _tenantSets.Values)
        {
            set.DisposeAsync(IOBehavior.Synchronous).GetCompletedResult();
        }

        foreach (var limiter in _limiters)
        {
            limiter.Dispose();
        }
    }

    private async ValueTask DisposeTenantsAsync()
    {
        foreach (var set in _tenantSets.Values)
        {
            await set.DisposeAsync(IOBehavior.Asynchronous).ConfigureAwait(false);
        }

        foreach (var limiter in _limiters)
        {
            limiter.Dispose();
        }
    }
}
