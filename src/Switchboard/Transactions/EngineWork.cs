using System.Data;
using System.Data.Common;
using Switchboard.Internal;

namespace Switchboard.Transactions;

/// <summary>Short units of Switchboard's own work on an engine: on a connection of their own, optionally in a transaction of their own.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1068", Justification = "The work delegate comes last so that call sites read top to bottom.")]
internal static class EngineWork
{
    /// <summary>Runs <paramref name="work"/> on a connection checked out for it, and returns the connection.</summary>
    public static async ValueTask<T> WithConnectionAsync<T>(DatabaseEngine engine, IOBehavior io, CancellationToken cancellationToken,
        Func<DbConnection, ValueTask<T>> work)
    {
        var connection = await engine.OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
        try
        {
            return await work(connection).ConfigureAwait(false);
        }
        finally
        {
            await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
        }
    }

    /// <summary>Runs <paramref name="work"/> in a transaction of its own on <paramref name="connection"/>, and commits it.</summary>
    public static async ValueTask<T> InTransactionAsync<T>(DatabaseEngine engine, DbConnection connection, IOBehavior io, CancellationToken cancellationToken,
        Func<DbTransaction, ValueTask<T>> work)
    {
        var async = io == IOBehavior.Asynchronous;
        var transaction = await engine.Dialect.BeginTransactionAsync(connection, engine.Definition, IsolationLevel.Unspecified, false, async, cancellationToken)
            .ConfigureAwait(false);
        try
        {
            var result = await work(transaction).ConfigureAwait(false);
            if (async)
            {
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                transaction.Commit();
            }

            return result;
        }
        finally
        {
            if (async)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                transaction.Dispose();
            }
        }
    }
}
