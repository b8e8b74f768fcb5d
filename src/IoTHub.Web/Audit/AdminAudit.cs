using IoTHub.Data.Admin.Audit;
using IoTHub.Web.Api;
using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Authorization;

namespace IoTHub.Web.Audit;

/// <summary>
/// Writes to the audit log every API request that would change something, whatever it was answered (a request refused
/// with 400, one that could not even be bound included, 401, 403, 404), and every API request refused with 403, reads
/// included. Logins, open to anyone, write their own failures (<see cref="AdminLogin"/>); the dashboard's changes
/// are written by its actions, with the request line the same change takes through the API (<see cref="Action"/>).
/// </summary>
internal static class AdminAudit
{
    /// <summary>Between authentication (so the actor is known) and authorization (so its 403s pass through here).</summary>
    public static WebApplication UseAdminAudit(this WebApplication app)
    {
        app.Use(static async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments(AdminApi.Prefix, StringComparison.OrdinalIgnoreCase))
            {
                await next(context);
                return;
            }

            try
            {
                await next(context);
            }
            catch (BadHttpRequestException bad)
            {
                // Answered as a problem further out (BadRequests), after this.
                await WriteAsync(context, bad.StatusCode);
                throw;
            }

            await WriteAsync(context, context.Response.StatusCode);
        });
        return app;
    }

    private static Task WriteAsync(HttpContext http, int status)
    {
        var request = http.Request;
        var write = !HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !HttpMethods.IsOptions(request.Method);
        if ((!write && status != StatusCodes.Status403Forbidden) || http.GetEndpoint()?.Metadata.GetMetadata<IAllowAnonymous>() is not null)
        {
            return Task.CompletedTask;
        }

        var source = http.User.Identity?.AuthenticationType == ApiKeyAuthenticationHandler.SchemeName ? AuditSources.ApiKey : AuditSources.Api;
        var record = new AuditRecord(DateTimeOffset.UtcNow, http.User.Identity?.Name ?? "(unknown)", Action(request.Method, request.Path, request.QueryString), status,
            http.Connection.RemoteIpAddress?.ToString() ?? "(unknown)", source);
        return http.RequestServices.GetRequiredService<IAuditLog>().WriteAsync(record, CancellationToken.None);
    }

    /// <summary>The action of an entry, whichever way the change came: the request line, with the path escaped as a request's path is.</summary>
    public static string Action(string method, PathString path, QueryString query = default) => $"{method} {path}{query}";
}
