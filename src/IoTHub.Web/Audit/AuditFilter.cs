using IoTHub.Data.Admin.Audit;

namespace IoTHub.Web.Audit;

/// <summary>Writes every change made through the API (any method but GET/HEAD/OPTIONS on an endpoint that needs a token).</summary>
internal static class AuditFilter
{
    public static TBuilder AddAudit<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(static async (context, next) =>
        {
            var result = await next(context);
            var http = context.HttpContext;
            var request = http.Request;
            if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)
                || http.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is not null)
            {
                return result;
            }

            var status = StatusOf(result) ?? http.Response.StatusCode;
            var record = new AuditRecord(DateTimeOffset.UtcNow, http.User.Identity?.Name ?? "(unknown)",
                $"{request.Method} {request.Path}{request.QueryString}", status, http.Connection.RemoteIpAddress?.ToString() ?? "(unknown)");
            await http.RequestServices.GetRequiredService<IAuditLog>().WriteAsync(record, CancellationToken.None);
            return result;
        });

    /// <summary>The status a handler's result answers with, when it says (Results&lt;A, B&gt; wraps the result that was chosen).</summary>
    public static int? StatusOf(object? result) => Unwrap(result) is IStatusCodeHttpResult { StatusCode: { } code } ? code : null;

    /// <summary>The result a handler chose: Results&lt;A, B&gt; wraps it.</summary>
    public static object? Unwrap(object? result) => result is INestedHttpResult nested ? nested.Result : result;
}
