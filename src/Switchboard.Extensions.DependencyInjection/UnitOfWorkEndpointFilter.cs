using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Switchboard.Extensions.DependencyInjection;

/// <summary>
/// Commits the request's sessions after the handler returns and before the response is written, so a client never
/// sees success for work that failed to commit; rolls them back when the handler throws or its result is a 5xx.
/// </summary>
internal sealed class UnitOfWorkEndpointFilter : IEndpointFilter
{
    public static UnitOfWorkEndpointFilter Instance { get; } = new();

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        object? result;
        try
        {
            result = await next(context).ConfigureAwait(false);
        }
        catch
        {
            await Scope(http).RollbackAsync().ConfigureAwait(false);
            throw;
        }

        var status = result is IStatusCodeHttpResult { StatusCode: { } code } ? code : http.Response.StatusCode;
        if (status >= StatusCodes.Status500InternalServerError)
        {
            await Scope(http).RollbackAsync().ConfigureAwait(false);
        }
        else
        {
            // Not the request's abort token: once the handler has finished, its work commits even if the client has gone.
            await Scope(http).CommitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return result;
    }

    private static DatabaseSessionScope Scope(HttpContext http) => http.RequestServices.GetRequiredService<DatabaseSessionScope>();
}

/// <summary>Endpoint metadata marking an endpoint (or group) as running in a unit of work.</summary>
public sealed class UnitOfWorkMetadata
{
    internal static UnitOfWorkMetadata Instance { get; } = new();

    private UnitOfWorkMetadata()
    {
    }
}
