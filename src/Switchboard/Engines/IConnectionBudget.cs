using Switchboard.Internal;

namespace Switchboard;

/// <summary>
/// A limit on physical connections shared by several engines (the tenants of a tenant set). The engine asks its budget
/// after its own checkout gate admitted a caller and before it takes a connection from the driver, and tells it each
/// time that gate is released. An engine without a budget behaves exactly as before.
/// </summary>
internal interface IConnectionBudget
{
    /// <summary>Waits (bounded) until this engine may hold one more open connection; throws a typed timeout otherwise.</summary>
    ValueTask AcquireAsync(IOBehavior io, CancellationToken cancellationToken);

    /// <summary>A connection this engine checked out went back to the driver's pool (or failed to open).</summary>
    void Release();
}
