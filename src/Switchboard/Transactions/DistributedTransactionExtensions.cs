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
}
