using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Security.Backends;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IoTHub.Web.Security.Jwt;

/// <summary>
/// Checks the CONNECT's password as a JSON Web Token (a compact JWS; docs/security.md#jwt): signed with the HMAC secret,
/// or with a key of the JWKS (<see cref="JwksKeys"/>), within its validity (with the clock skew), from the issuer and for
/// the audience when those are set, and naming the MQTT user name (and the client id) in the configured claims. A
/// password that is not a JWT is <see cref="AuthenticationResult.NotMine"/> (a password file after it decides); a JWT
/// that fails a check is <see cref="AuthenticationResult.Deny"/>. Only fetching the JWKS, and a valid token's rights claims
/// of another form, can fail (a backend failure);
/// the decisions are not cached, so none outlives the token's expiry, and the connection it lets in ends at that expiry
/// (<see cref="ClientRights.ExpiresAt"/>). An accepted token's <c>acl</c> claim (EMQX's list form) gives the client its own
/// access rules, and the <c>RolesClaim</c> its roles; a claim that is not of that form is a failure of the backend.
/// </summary>
internal sealed class JwtBackend : IAuthenticationBackend
{
    /// <summary>The claim of the client's own access rules, as EMQX names it.</summary>
    private const string AclClaim = "acl";

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
    private readonly string? _rolesClaim;

    /// <summary>
    /// With the HMAC <paramref name="secret"/>, or (secret null) the keys of <paramref name="jwks"/>; <paramref name="rolesClaim"/>
    /// names the claim whose values are the client's roles (null: none).
    /// </summary>
    public JwtBackend(byte[]? secret, JwksKeys? jwks, string? issuer, string? audience, TimeSpan clockSkew, string userNameClaim, string? clientIdClaim,
        string? rolesClaim, TimeProvider time)
    {
        _jwks = jwks;
        (_userNameClaim, _clientIdClaim, _rolesClaim) = (userNameClaim, clientIdClaim, rolesClaim);
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
        using var payload = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(token.EncodedPayload));
        var claims = payload.RootElement;
        return new AuthenticationAnswer(AuthenticationResult.Allow, new ClientRights(Roles(claims), Superuser: false)
        {
            Rules = claims.TryGetProperty(AclClaim, out var acl) ? Rules(acl, request.UserName) : [],
            ExpiresAt = new DateTimeOffset(DateTime.SpecifyKind(token.ValidTo, DateTimeKind.Utc)) + _parameters.ClockSkew,
        });
    }

    /// <summary>The roles the <c>RolesClaim</c> names: a string, or an array of strings; none without the setting or the claim.</summary>
    private string[] Roles(JsonElement claims)
    {
        if (_rolesClaim is null || !claims.TryGetProperty(_rolesClaim, out var claim))
        {
            return [];
        }

        return claim.ValueKind switch
        {
            JsonValueKind.String => [claim.GetString()!],
            JsonValueKind.Array when claim.EnumerateArray().All(static role => role.ValueKind == JsonValueKind.String) =>
                [.. claim.EnumerateArray().Select(static role => role.GetString()!)],
            _ => throw new AuthenticationBackendException($"the token's {_rolesClaim} claim is neither a string nor an array of strings"),
        };
    }

    /// <summary>EMQX's <c>acl</c> claim: a list of rules (<see cref="EmqxAcl"/>).</summary>
    private static IReadOnlyList<AclRule> Rules(JsonElement acl, string? userName) => acl.ValueKind == JsonValueKind.Array
        ? EmqxAcl.Read(acl.EnumerateArray(), userName, "the token's acl")
        : throw new AuthenticationBackendException("the token's acl claim is not a list of rules (EMQX's older form, an object of pub, sub and all lists, is not read)");

    private static bool Claimed(JsonWebToken token, string claim, string? value) =>
        value is not null && token.TryGetPayloadValue(claim, out string? claimed) && string.Equals(claimed, value, StringComparison.Ordinal);

    /// <summary>An expiry is required; not before it (and not before nbf), with the skew either way, on the broker's clock.</summary>
    private static bool Lifetime(DateTime now, DateTime? notBefore, DateTime? expires, TimeSpan skew) =>
        expires is { } end && now < end.ToUniversalTime() + skew && (notBefore is not { } start || now >= start.ToUniversalTime() - skew);
}
