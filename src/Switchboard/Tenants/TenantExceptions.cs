namespace Switchboard.Tenants;

/// <summary>
/// A tenant's checkout waited for the tenant set's connection limit longer than its checkout timeout: every permitted
/// connection was in use by other checkouts. Names the tenant, the limit and how long it waited.
/// </summary>
public sealed class TenantConnectionLimitException : SwitchboardException
{
    internal TenantConnectionLimitException(string setName, string tenantId, string limitName, int limit, TimeSpan waited)
        : base($"Timed out after {waited.TotalMilliseconds:0} ms waiting for a connection for tenant '{tenantId}' of tenant set '{setName}': " +
            $"all {limit} connections allowed by the limit '{limitName}' (MaxOpenConnections) are in use. " +
            "Raise MaxOpenConnections or Pool:CheckoutTimeout, or release sessions sooner.", setName + "/" + tenantId, null, null)
    {
        TenantSet = setName;
        TenantId = tenantId;
        Limit = limit;
        Waited = waited;
    }

    public string TenantSet { get; }

    public string TenantId { get; }

    public int Limit { get; }

    public TimeSpan Waited { get; }

    public override bool IsTransient => true;
}

/// <summary>A tenant set's catalog table has no row for a tenant.</summary>
public sealed class TenantNotFoundException : SwitchboardException
{
    internal TenantNotFoundException(string setName, string tenantId, string directoryDatabase, string table)
        : base($"Tenant '{tenantId}' of tenant set '{setName}' has no row in table {table} of database '{directoryDatabase}'.", directoryDatabase, null, null)
    {
        TenantSet = setName;
        TenantId = tenantId;
    }

    public string TenantSet { get; }

    public string TenantId { get; }
}

/// <summary>A tenant set name the catalog does not hold. Lists the sets it does hold.</summary>
public sealed class UnknownTenantSetException : SwitchboardException
{
    internal UnknownTenantSetException(string requestedName, IReadOnlyList<string> configuredNames)
        : base(BuildMessage(requestedName, configuredNames))
    {
        RequestedName = requestedName;
        ConfiguredNames = configuredNames;
    }

    public string RequestedName { get; }

    public IReadOnlyList<string> ConfiguredNames { get; }

    private static string BuildMessage(string name, IReadOnlyList<string> configured) =>
        Internal.Spelling.UnknownNameMessage("tenant set", name, configured, "(none; add a \"Tenants\" section or call AddTenants)");
}

/// <summary>
/// Code inside a tenant scope that was locked to one tenant tried to use another tenant of the same set
/// (Rails' <c>prohibit_shard_swapping</c>): a programming error, so it is an <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class TenantScopeLockedException : InvalidOperationException
{
    internal TenantScopeLockedException(string setName, string lockedTenant, string requestedTenant)
        : base($"This code runs in a tenant scope locked to tenant '{lockedTenant}' of tenant set '{setName}'; it cannot use tenant '{requestedTenant}'.")
    {
        TenantSet = setName;
        LockedTenantId = lockedTenant;
        RequestedTenantId = requestedTenant;
    }

    public string TenantSet { get; }

    public string LockedTenantId { get; }

    public string RequestedTenantId { get; }
}
