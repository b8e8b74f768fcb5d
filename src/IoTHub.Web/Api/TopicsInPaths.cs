using Microsoft.AspNetCore.Http.Features;

namespace IoTHub.Web.Api;

/// <summary>
/// A topic at the end of an API path (<c>{**topic}</c>) read from the path as sent: Kestrel decodes
/// every escape but <c>%2F</c>, so routing alone would look up <c>site%2Fline-1</c> literally (and
/// could not tell <c>%252F</c> from <c>%2F</c>). Without a topic in the path, <c>?topic=</c> gives it.
/// </summary>
internal static class TopicsInPaths
{
    /// <summary>After routing, before the endpoint binds its parameters.</summary>
    public static WebApplication UseTopicsInPaths(this WebApplication app)
    {
        app.Use(static (context, next) =>
        {
            if (context.GetEndpoint() is RouteEndpoint { RoutePattern: { Parameters: [.., { IsCatchAll: true } last] } pattern }
                && context.Request.Path.StartsWithSegments(AdminApi.Prefix)
                && context.Features.Get<IHttpRequestFeature>()?.RawTarget is ['/', ..] target)
            {
                var path = target.Split('?', 2)[0];
                var raw = Rest(path, SegmentCount(context.Request.PathBase) + pattern.PathSegments.Count - 1);
                if (raw.Length > 0)
                {
                    context.Request.RouteValues[last.Name] = Uri.UnescapeDataString(raw);
                }
                else if (context.Request.Query[last.Name] is [{ } fromQuery])
                {
                    context.Request.RouteValues[last.Name] = fromQuery;
                }
            }

            return next(context);
        });
        return app;
    }

    private static int SegmentCount(PathString path) => path.Value is { Length: > 0 } value ? value.Count(static c => c == '/') : 0;

    /// <summary>The path after its first <paramref name="segments"/> segments, still percent-encoded; empty when there is none.</summary>
    private static string Rest(string path, int segments)
    {
        var slash = 0;
        for (var i = 0; i < segments && slash >= 0; i++)
        {
            slash = path.IndexOf('/', slash + 1);
        }

        return slash < 0 ? string.Empty : path[(slash + 1)..];
    }
}
