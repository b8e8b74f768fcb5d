using IoTHub.Web.Dashboard.Auth;
using IoTHub.Web.Dashboard.Layout;
using IoTHub.Web.Dashboard.Live;

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
        services.AddScoped<DashboardActions>();
        return services;
    }

    public static WebApplication MapDashboard(this WebApplication app)
    {
        // The framework's own files (_framework/blazor.web.js); the dashboard's css comes from the web root.
        app.MapStaticAssets().AllowAnonymous();
        // Blazor would add a second policy with frame-ancestors 'self': the one of SecurityHeaders says 'none' for every answer.
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode(static server => server.ContentSecurityFrameAncestorsPolicy = null);
        app.MapDashboardLogout();
        return app;
    }
}
