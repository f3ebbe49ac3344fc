using Switchboard.Internal;

namespace Switchboard;

/// <summary>Distributed transactions and their recovery on a <see cref="SwitchboardCatalog"/>.</summary>
public static class DistributedTransactionExtensions
{
    /// <summary>
    /// Begins a transaction across the named databases: opens a connection to each and begins its branch, in parallel,
    /// after checking that each can take part (<see cref="TwoPhaseCommitUnavailableException"/> otherwise, before any work).
    /// </summary>
    public static Task<DistributedTransaction> BeginDistributedAsync(this SwitchboardCatalog catalog, params string[] databases) =>
        BeginDistributedAsync(catalog, databases, null, CancellationToken.None);

    /// <inheritdoc cref="BeginDistributedAsync(SwitchboardCatalog, string[])"/>
    public static Task<DistributedTransaction> BeginDistributedAsync(this SwitchboardCatalog catalog, IReadOnlyList<string> databases,
        DistributedTransactionOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        RefuseTenantDatabases(catalog, databases);
        return DistributedTransaction.BeginAsync(catalog, databases, options ?? DistributedTransactionOptions.Default, IOBehavior.Asynchronous, cancellationToken)
            .AsTask();
    }

    /// <inheritdoc cref="BeginDistributedAsync(SwitchboardCatalog, string[])"/>
    public static DistributedTransaction BeginDistributed(this SwitchboardCatalog catalog, params string[] databases) =>
        BeginDistributed(catalog, databases, null);

    /// <inheritdoc cref="BeginDistributedAsync(SwitchboardCatalog, string[])"/>
    public static DistributedTransaction BeginDistributed(this SwitchboardCatalog catalog, IReadOnlyList<string> databases, DistributedTransactionOptions? options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        RefuseTenantDatabases(catalog, databases);
        return DistributedTransaction.BeginAsync(catalog, databases, options ?? DistributedTransactionOptions.Default, IOBehavior.Synchronous, CancellationToken.None)
            .GetCompletedResult();
    }

    /// <summary>
    /// Runs a recovery pass now: lists the prepared transactions on every database that can prepare, commits those whose
    /// commit decision is recorded, rolls back this coordinator's others (presumed abort), and reports what it did. Safe to
    /// run while transactions are under way; never touches a transaction that is not this coordinator's.
    /// </summary>
    public static Task<RecoveryReport> RecoverTransactionsAsync(this SwitchboardCatalog catalog, RecoveryOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return catalog.Transactions.RecoverAsync(options ?? new RecoveryOptions(), IOBehavior.Asynchronous, cancellationToken).AsTask();
    }

    /// <inheritdoc cref="RecoverTransactionsAsync"/>
    public static RecoveryReport RecoverTransactions(this SwitchboardCatalog catalog, RecoveryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return catalog.Transactions.RecoverAsync(options ?? new RecoveryOptions(), IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();
    }

    /// <summary>
    /// A tenant's database (<c>set/tenant</c>) cannot be a participant: recovery settles prepared branches only on the
    /// catalog's configured databases, so a tenant's branch left prepared by a crash would hold its locks for ever. Say
    /// so before any connection is opened, rather than "no database named".
    /// </summary>
    private static void RefuseTenantDatabases(SwitchboardCatalog catalog, IReadOnlyList<string>? databases)
    {
        if (databases is null || catalog.TenantSetNames.Count == 0)
        {
            return;
        }

        var tenants = databases.Where(d => d is not null && !catalog.Contains(d) && d.Split('/') is [var set, _]
            && catalog.TenantSetNames.Contains(set, StringComparer.OrdinalIgnoreCase)).ToList();
        if (tenants.Count > 0)
        {
            throw new TwoPhaseCommitUnavailableException([.. tenants.Select(t => new KeyValuePair<string, string>(t, "is a tenant's database"))],
                "Tenant databases cannot join a distributed transaction: recovery settles prepared branches only on the catalog's configured "
                + "databases, so a tenant's could stay prepared and hold its locks. Write to one tenant per session, or configure the databases "
                + "that must commit together as named databases");
        }
    }
}
