using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Auth;

/// <summary>Authenticates a request that carries an X-Api-Key header as the key's role, named "apikey:{name}".</summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, AdminApiKeys keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(AdminApiKeys.Header, out var values) || values.ToString() is not { Length: > 0 } secret)
        {
            return AuthenticateResult.NoResult();
        }

        if (await keys.VerifyAsync(secret, Context.RequestAborted) is not { } key)
        {
            return AuthenticateResult.Fail("Unknown or revoked API key.");
        }

        var identity = AdminLogin.Identity("apikey:" + key.Name, key.Role, SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}
