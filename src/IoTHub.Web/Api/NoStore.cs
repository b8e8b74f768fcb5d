namespace IoTHub.Web.Api;

/// <summary><c>Cache-Control: no-store</c> on answers that carry a token or a key, so no cache or browser history keeps one.</summary>
internal static class NoStore
{
    public static RouteHandlerBuilder WithNoStore(this RouteHandlerBuilder builder) =>
        builder.AddEndpointFilter(static (context, next) =>
        {
            context.HttpContext.Response.Headers.CacheControl = "no-store";
            return next(context);
        });
}
