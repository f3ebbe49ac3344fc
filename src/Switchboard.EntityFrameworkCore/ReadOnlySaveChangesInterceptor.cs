using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Switchboard.EntityFrameworkCore;

/// <summary>Refuses SaveChanges on a context created for <see cref="SessionIntent.ReadOnly"/>: its rows may come from a replica.</summary>
internal sealed class ReadOnlySaveChangesInterceptor : SaveChangesInterceptor
{
    public static ReadOnlySaveChangesInterceptor Instance { get; } = new();

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result) =>
        throw Refuse(eventData.Context);

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result,
        CancellationToken cancellationToken = default) =>
        throw Refuse(eventData.Context);

    private static InvalidOperationException Refuse(DbContext? context) => new(
        $"{context?.GetType().Name ?? "This context"} was created read-only (SessionIntent.ReadOnly): it cannot save changes. "
        + "Create it with SessionIntent.ReadWrite to write.");
}
