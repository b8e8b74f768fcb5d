using IoTHub.Web.Dashboard.Auth;
using IoTHub.Web.Dashboard.Layout;
using IoTHub.Web.Dashboard.Live;
using IoTHub.Web.Dashboard.Pages;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Routing;

namespace IoTHub.Web.Dashboard;

/// <summary>The Blazor dashboard at /: interactive server rendering, live over the circuit.</summary>
internal static class DashboardSetup
{
    public static IServiceCollection AddDashboard(this IServiceCollection services)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddCascadingAuthenticationState();
        services.AddScoped<Microsoft.AspNetCore.Components.Authorization.AuthenticationStateProvider, AccountRevalidation>();
        services.AddSingleton<DashboardFeed>();
        services.AddHostedService(static s => s.GetRequiredService<DashboardFeed>());
        services.AddScoped<DashboardCircuit>();
        services.AddScoped<CircuitConnection>();
        services.AddScoped<Microsoft.AspNetCore.Components.Server.Circuits.CircuitHandler>(static s => s.GetRequiredService<CircuitConnection>());
        services.AddScoped<DashboardActions>();
        return services;
    }

    /// <summary>
    /// A page a browser asks for (GET or HEAD, accepting text/html) that does not exist, outside the API: the dashboard's
    /// <see cref="NotFound"/> page, with status 404, rather than the problem details the API answers. Before routing, so
    /// the page is routed when the request runs again.
    /// </summary>
    public static WebApplication UseDashboardNotFoundPage(this WebApplication app)
    {
        app.UseWhen(static context => AsksForPage(context.Request), static branch =>
        {
            branch.UseStatusCodePagesWithReExecute(NotFound.Path, createScopeForStatusCodePages: true);
            // Other statuses (401 for a bad token, 405) keep the answer they have.
            branch.Use(static async (context, next) =>
            {
                await next(context);
                if (context.Response.StatusCode != StatusCodes.Status404NotFound && context.Features.Get<IStatusCodePagesFeature>() is { } pages)
                {
                    pages.Enabled = false;
                }
            });
        });
        return app;
    }

    public static WebApplication MapDashboard(this WebApplication app)
    {
        // The framework's own files (_framework/blazor.web.js); the dashboard's css comes from the web root.
        app.MapStaticAssets().AllowAnonymous();
        // Blazor would add a second policy with frame-ancestors 'self': the one of SecurityHeaders says 'none' for every answer.
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode(static server => server.ContentSecurityFrameAncestorsPolicy = null)
            .Add(static endpoint => AnswerHead(endpoint));
        app.MapDashboardLogout();
        return app;
    }

    private static bool AsksForPage(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
        && !request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
        && request.GetTypedHeaders().Accept.Any(static accept => accept.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// HEAD is GET without the body (RFC 9110 9.3.2), which Kestrel leaves out by itself. The framework maps pages to GET and
    /// POST only: HEAD /login found no page, and the login redirect sent it back to /login for ever.
    /// </summary>
    private static void AnswerHead(EndpointBuilder endpoint)
    {
        if (endpoint.Metadata.OfType<HttpMethodMetadata>().LastOrDefault() is { } methods
            && methods.HttpMethods.Contains(HttpMethods.Get) && !methods.HttpMethods.Contains(HttpMethods.Head))
        {
            endpoint.Metadata.Add(new HttpMethodMetadata([.. methods.HttpMethods, HttpMethods.Head]));
        }
    }
}
