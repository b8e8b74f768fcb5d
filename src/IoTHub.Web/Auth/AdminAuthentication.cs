using IoTHub.Data.Admin;
using IoTHub.Web.Dashboard.Auth;
using IoTHub.Web.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace IoTHub.Web.Auth;

/// <summary>
/// Authentication of admin accounts: JWT bearer tokens and API keys for the admin API, a cookie for
/// the dashboard. Every endpoint requires an authenticated account unless it allows anonymous access
/// (logins, health, metrics, static files); changes require the admin role.
/// </summary>
internal static class AdminAuthentication
{
    public const string Issuer = "IoTHub";
    public const string Audience = "IoTHub.Admin";
    public const string NameClaim = "name";
    public const string RoleClaim = "role";

    /// <summary>The account's sign-outs when the login was issued (<see cref="IoTHub.Data.Admin.Accounts.AdminAccount.SignOuts"/>).</summary>
    public const string SignOutsClaim = "sign_outs";

    /// <summary>The default scheme: forwards to JWT bearer, the API key handler or the dashboard's cookie.</summary>
    public const string SchemeName = "Admin";

    public static IServiceCollection AddAdminAuthentication(this IServiceCollection services)
    {
        services.AddSingleton<SigningKey>();
        services.AddSingleton<AdminAccounts>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<AdminLogin>();
        services.AddSingleton<TokenIssuer>();
        services.AddSingleton(TimeProvider.System);
        services.AddHostedService<FirstAdmin>();

        // Accounts, API keys and the audit log: in the database when storage has one, else in memory.
        services.AddSingleton(static provider => AdminStores.Create(provider.GetRequiredService<BrokerDatabase>().Contexts));
        services.AddSingleton(static provider => provider.GetRequiredService<AdminStores>().Accounts);
        services.AddSingleton(static provider => provider.GetRequiredService<AdminStores>().ApiKeys);
        services.AddSingleton(static provider => provider.GetRequiredService<AdminStores>().AuditLog);
        services.AddSingleton<AdminApiKeys>();

        // One scheme for all: a request with X-Api-Key is checked as an API key, an API request or one with an
        // Authorization header as a bearer token (so the API answers 401, never a redirect), any other by
        // the dashboard's cookie (whose challenge redirects to the login page).
        services.AddAuthentication(SchemeName)
            .AddPolicyScheme(SchemeName, "Bearer token, API key or dashboard cookie", static scheme => scheme.ForwardDefaultSelector = static context =>
                context.Request.Headers.ContainsKey(AdminApiKeys.Header) ? ApiKeyAuthenticationHandler.SchemeName
                : DashboardAuthentication.Handles(context.Request) ? DashboardAuthentication.SchemeName
                : JwtBearerDefaults.AuthenticationScheme)
            .AddJwtBearer()
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddDashboardCookie();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<SigningKey>(static (jwt, key) =>
            {
                jwt.MapInboundClaims = false;
                jwt.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = Issuer,
                    ValidAudience = Audience,
                    IssuerSigningKey = key.Key,
                    ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                    NameClaimType = NameClaim,
                    RoleClaimType = RoleClaim,
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
                jwt.Events = new JwtBearerEvents { OnTokenValidated = EnsureAccountStillExistsAsync };
            });

        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(AdminRoles.ChangePolicy, static policy => policy.RequireRole(AdminRoles.Admin));
        return services;
    }

    /// <summary>A token stops working as soon as its account is deleted, changes role or signs out, not only when it expires.</summary>
    private static async Task EnsureAccountStillExistsAsync(TokenValidatedContext context)
    {
        var accounts = context.HttpContext.RequestServices.GetRequiredService<AdminAccounts>();
        if (!await accounts.IsCurrentAsync(context.Principal, context.HttpContext.RequestAborted))
        {
            context.Fail("The token's account no longer exists, has another role or signed out.");
        }
    }
}
