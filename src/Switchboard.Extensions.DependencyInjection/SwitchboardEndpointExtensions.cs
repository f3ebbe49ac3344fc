using Microsoft.AspNetCore.Http;
using Switchboard.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Switchboard's endpoint conventions.</summary>
public static class SwitchboardEndpointExtensions
{
    /// <summary>
    /// Runs the endpoint (or every endpoint of a group) in a unit of work: the sessions it used through
    /// <c>[FromKeyedServices("name")] DatabaseSession</c> or <see cref="DatabaseSessionScope"/> are committed when the
    /// handler returns a non-5xx result, before the response is written, and rolled back when it throws or returns a 5xx.
    /// Without it, sessions are rolled back at the end of the request unless the handler commits them.
    /// Applies to minimal-API route handlers.
    /// </summary>
    public static TBuilder WithUnitOfWork<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.WithMetadata(UnitOfWorkMetadata.Instance);
        return builder.AddEndpointFilter(UnitOfWorkEndpointFilter.Instance);
    }
}
