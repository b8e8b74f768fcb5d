using System.Text;
using System.Text.Unicode;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Backends;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IoTHub.Web.Security.Jwt;

/// <summary>
/// Checks the CONNECT's password as a JSON Web Token (a compact JWS; docs/security.md#jwt): signed with the HMAC secret,
/// or with a key of the JWKS (<see cref="JwksKeys"/>), within its validity (with the clock skew), from the issuer and for
/// the audience when those are set, and naming the MQTT user name (and the client id) in the configured claims. A
/// password that is not a JWT is <see cref="AuthenticationResult.NotMine"/> (a password file after it decides); a JWT
/// that fails a check is <see cref="AuthenticationResult.Deny"/>. Only fetching the JWKS can fail (a backend failure);
/// the decisions are not cached, so none outlives the token's expiry, and the connection it lets in ends at that expiry
/// (<see cref="ClientRights.ExpiresAt"/>).
/// </summary>
internal sealed class JwtBackend : IAuthenticationBackend
{
    public static readonly string[] HmacAlgorithms = [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.HmacSha384, SecurityAlgorithms.HmacSha512];

    public static readonly string[] PublicKeyAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly TokenValidationParameters _parameters;
    private readonly JwksKeys? _jwks;
    private readonly string _userNameClaim;
    private readonly string? _clientIdClaim;

    /// <summary>With the HMAC <paramref name="secret"/>, or (secret null) the keys of <paramref name="jwks"/>.</summary>
    public JwtBackend(byte[]? secret, JwksKeys? jwks, string? issuer, string? audience, TimeSpan clockSkew, string userNameClaim, string? clientIdClaim,
        TimeProvider time)
    {
        _jwks = jwks;
        (_userNameClaim, _clientIdClaim) = (userNameClaim, clientIdClaim);
        Description = jwks is null ? "HMAC secret" : jwks.Description;
        _parameters = new TokenValidationParameters
        {
            ValidAlgorithms = jwks is null ? HmacAlgorithms : PublicKeyAlgorithms,
            IssuerSigningKey = secret is null ? null : new SymmetricSecurityKey(secret),
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = clockSkew,
            LifetimeValidator = (notBefore, expires, _, parameters) => Lifetime(time.GetUtcNow().UtcDateTime, notBefore, expires, parameters.ClockSkew),
            ValidateIssuer = issuer is not null,
            ValidIssuer = issuer,
            ValidateAudience = audience is not null,
            ValidAudience = audience,
            ValidateIssuerSigningKey = true,
        };
    }

    public string Method => "jwt";

    public string Description { get; }

    public bool DecisionsCached => false;

    public async Task<AuthenticationAnswer> AskAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        if (request.Password is not { } password || !Utf8.IsValid(password)
            || Encoding.UTF8.GetString(password) is not { } text || !_handler.CanReadToken(text) || text.Count(static c => c == '.') != 2)
        {
            return AuthenticationResult.NotMine;
        }

        JsonWebToken token;
        try
        {
            token = _handler.ReadJsonWebToken(text);
        }
        catch (ArgumentException)
        {
            return AuthenticationResult.NotMine;
        }

        var parameters = _parameters;
        if (_jwks is not null)
        {
            parameters = _parameters.Clone();
            parameters.IssuerSigningKeys = await _jwks.KeysAsync(token.TryGetHeaderValue("kid", out string? kid) ? kid : null, cancellationToken).ConfigureAwait(false);
        }

        var result = await _handler.ValidateTokenAsync(token, parameters).ConfigureAwait(false);
        if (!result.IsValid || !Claimed(token, _userNameClaim, request.UserName) || (_clientIdClaim is not null && !Claimed(token, _clientIdClaim, request.ClientId)))
        {
            return AuthenticationResult.Deny;
        }

        // The connection ends when the token would no longer be accepted: at exp (required), with the skew a CONNECT gets.
        return new AuthenticationAnswer(AuthenticationResult.Allow, new ClientRights([], Superuser: false)
        {
            ExpiresAt = new DateTimeOffset(DateTime.SpecifyKind(token.ValidTo, DateTimeKind.Utc)) + _parameters.ClockSkew,
        });
    }

    private static bool Claimed(JsonWebToken token, string claim, string? value) =>
        value is not null && token.TryGetPayloadValue(claim, out string? claimed) && string.Equals(claimed, value, StringComparison.Ordinal);

    /// <summary>An expiry is required; not before it (and not before nbf), with the skew either way, on the broker's clock.</summary>
    private static bool Lifetime(DateTime now, DateTime? notBefore, DateTime? expires, TimeSpan skew) =>
        expires is { } end && now < end.ToUniversalTime() + skew && (notBefore is not { } start || now >= start.ToUniversalTime() - skew);
}
