using IoTHub.Web.Api;
using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Net.Http.Headers;

namespace IoTHub.Web.Dashboard.Auth;

/// <summary>
/// The dashboard's login: a cookie set by the login form (the interactive circuit can carry nothing
/// else), for the same admin accounts and roles as the API's tokens.
/// </summary>
internal static class DashboardAuthentication
{
    public const string SchemeName = "Dashboard";
    public const string LoginPath = "/login";
    public const string LogoutPath = "/logout";
    public const string CookieName = "IoTHub.Dashboard";

    /// <summary>Requests the cookie answers for: anything but the API and requests that bring their own credentials.</summary>
    public static bool Handles(HttpRequest request) =>
        !request.Path.StartsWithSegments(AdminApi.Prefix, StringComparison.OrdinalIgnoreCase) && !request.Headers.ContainsKey(HeaderNames.Authorization);

    public static AuthenticationBuilder AddDashboardCookie(this AuthenticationBuilder builder) =>
        builder.AddCookie(SchemeName, static cookie =>
        {
            cookie.LoginPath = LoginPath;
            cookie.LogoutPath = LogoutPath;
            cookie.AccessDeniedPath = LoginPath;
            cookie.Cookie.Name = CookieName;
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = Microsoft.AspNetCore.Http.SameSiteMode.Strict;
            cookie.ExpireTimeSpan = TimeSpan.FromHours(8);
            cookie.SlidingExpiration = true;
            cookie.Events.OnValidatePrincipal = RejectWhenAccountChangedAsync;
        });

    /// <summary>
    /// POST /logout (from the layout's form, with its antiforgery token): signs the account out, so that the cookie (a copy
    /// of it included) and the account's other logins stop working, removes the cookie and goes to the login page.
    /// </summary>
    public static IEndpointRouteBuilder MapDashboardLogout(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost(LogoutPath, static async (HttpContext context, AdminAccounts accounts) =>
            {
                await accounts.SignOutAsync(context.User, context.RequestAborted);
                await context.SignOutAsync(SchemeName);
                return TypedResults.LocalRedirect(LoginPath);
            })
            .WithMetadata(new RequireAntiforgeryTokenAttribute())
            .ExcludeFromDescription();
        return endpoints;
    }

    /// <summary>Like a token, a cookie stops working as soon as its account is deleted, changes role or signs out.</summary>
    private static async Task RejectWhenAccountChangedAsync(CookieValidatePrincipalContext context)
    {
        var accounts = context.HttpContext.RequestServices.GetRequiredService<AdminAccounts>();
        if (!await accounts.IsCurrentAsync(context.Principal, context.HttpContext.RequestAborted))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(SchemeName);
        }
    }
}
