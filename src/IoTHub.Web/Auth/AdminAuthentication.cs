using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace IoTHub.Web.Auth;

/// <summary>
/// JWT bearer authentication for the admin API. Every endpoint requires an authenticated account
/// unless it allows anonymous access (login, health, metrics); changes require the admin role.
/// </summary>
internal static class AdminAuthentication
{
    public const string Issuer = "IoTHub";
    public const string Audience = "IoTHub.Admin";
    public const string NameClaim = "name";
    public const string RoleClaim = "role";

    public static IServiceCollection AddAdminAuthentication(this IServiceCollection services)
    {
        services.AddSingleton<SigningKey>();
        services.AddSingleton<AdminAccounts>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<TokenIssuer>();
        services.AddSingleton(TimeProvider.System);
        services.AddHostedService<FirstAdmin>();

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
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
            });

        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(AdminRoles.ChangePolicy, static policy => policy.RequireRole(AdminRoles.Admin));
        return services;
    }
}
