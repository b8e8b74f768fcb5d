using IoTHub.Data.Admin.Accounts;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using IoTHub.Web.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IoTHub.Web.Auth;

/// <summary>Issues signed tokens for verified accounts.</summary>
internal sealed class TokenIssuer(SigningKey key, IOptions<AdminOptions> options, TimeProvider time)
{
    private readonly JsonWebTokenHandler _handler = new();

    public (string Token, DateTimeOffset ExpiresAt) Issue(AdminAccount account)
    {
        var now = time.GetUtcNow();
        var expires = now + options.Value.TokenLifetime;
        var token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = AdminAuthentication.Issuer,
            Audience = AdminAuthentication.Audience,
            Subject = AdminLogin.Identity(account, JwtBearerDefaults.AuthenticationScheme),
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            SigningCredentials = new SigningCredentials(key.Key, SecurityAlgorithms.HmacSha256),
        });
        return (token, expires);
    }
}
