using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IoTHub.Interop.Tests.Security;

/// <summary>Makes tokens as an issuer would, with Microsoft.IdentityModel: the claims the hosts check and a signing key.</summary>
public static class Tokens
{
    public const string Issuer = "https://issuer.test";
    public const string Audience = "iothub";

    /// <param name="claims">More claims, e.g. <c>acl</c> (a <see cref="System.Text.Json.JsonElement"/> is written as it is).</param>
    public static string Make(SigningCredentials credentials, string subject, string clientId, TimeSpan? expiresIn = null, string issuer = Issuer,
        string audience = Audience, DateTime? notBefore = null, IReadOnlyDictionary<string, object>? claims = null)
    {
        var now = DateTime.UtcNow;
        var validFrom = notBefore ?? now.AddHours(-2);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = validFrom,
            NotBefore = validFrom,
            Expires = now + (expiresIn ?? TimeSpan.FromHours(1)),
            Claims = new Dictionary<string, object>(claims ?? new Dictionary<string, object>()) { ["sub"] = subject, ["client_id"] = clientId },
            SigningCredentials = credentials,
        });
    }

    /// <summary>The same claims, unsigned: header <c>{"alg":"none"}</c> and an empty signature.</summary>
    public static string WithoutSignature(string subject, string clientId)
    {
        var exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        return $"{Base64UrlEncoder.Encode("{\"alg\":\"none\",\"typ\":\"JWT\"}")}." +
            $"{Base64UrlEncoder.Encode($"{{\"sub\":\"{subject}\",\"client_id\":\"{clientId}\",\"iss\":\"{Issuer}\",\"aud\":\"{Audience}\",\"exp\":{exp}}}")}.";
    }
}

/// <summary>
/// The host with a Jwt authenticator (0) checking <see cref="Secret"/> (HS256), issuer, audience, sub = user name and
/// client_id = client id, then (1) a password file with alice for passwords that are not JWTs. Bans are off.
/// </summary>
public sealed class JwtSecretHost : IDisposable
{
    public const string Secret = "a-test-secret-of-more-than-32-bytes-for-hs256";
    public const string AlicePassword = "alice-in-the-file";

    private readonly string _folder = Directory.CreateTempSubdirectory("iothub-interop-jwt-").FullName;

    public JwtSecretHost()
    {
        var passwords = Path.Combine(_folder, "passwords");
        PasswordFileHost.RunPasswd("-c", "-b", passwords, "alice", AlicePassword);
        Host = new InteropHost(new Dictionary<string, string>
        {
            ["Security:Authenticators:0:Type"] = "Jwt",
            ["Security:Authenticators:0:Secret"] = Secret,
            ["Security:Authenticators:0:Issuer"] = Tokens.Issuer,
            ["Security:Authenticators:0:Audience"] = Tokens.Audience,
            ["Security:Authenticators:0:ClientIdClaim"] = "client_id",
            ["Security:Authenticators:1:Type"] = "PasswordFile",
            ["Security:Authenticators:1:Path"] = passwords,
            ["Security:Bans:Enabled"] = "false",
        }, Logs);
    }

    public static SigningCredentials Credentials { get; } = new(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(Secret)), SecurityAlgorithms.HmacSha256);

    public InteropHost Host { get; }

    public LogCapture Logs { get; } = new();

    public void Dispose()
    {
        Host.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}

/// <summary>
/// An issuer's JWKS on real Kestrel on loopback (<see cref="Url"/>): an RSA key (rsa-1) and an ECDSA P-256 key (ec-1);
/// <see cref="Rotate"/> adds rsa-2; <see cref="Down"/> answers 500.
/// </summary>
public sealed class JwksServer : IDisposable
{
    private readonly WebApplication _app;
    private readonly RSA _rsa1 = RSA.Create(2048);
    private readonly RSA _rsa2 = RSA.Create(2048);
    private readonly ECDsa _ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private volatile bool _rotated;
    private int _requests;

    public JwksServer()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(static kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.MapGet("/jwks.json", () =>
        {
            Interlocked.Increment(ref _requests);
            return Down ? Results.StatusCode(500) : Results.Text(KeySet(), "application/json");
        });
        _app.StartAsync().GetAwaiter().GetResult(); // a fixture cannot await
        Url = new Uri($"{_app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single()}/jwks.json");
        Rsa1 = new SigningCredentials(new RsaSecurityKey(_rsa1) { KeyId = "rsa-1" }, SecurityAlgorithms.RsaSha256);
        Rsa2 = new SigningCredentials(new RsaSecurityKey(_rsa2) { KeyId = "rsa-2" }, SecurityAlgorithms.RsaSha256);
        Ec = new SigningCredentials(new ECDsaSecurityKey(_ec) { KeyId = "ec-1" }, SecurityAlgorithms.EcdsaSha256);
    }

    public Uri Url { get; }

    public SigningCredentials Rsa1 { get; }

    /// <summary>Served only after <see cref="Rotate"/>.</summary>
    public SigningCredentials Rsa2 { get; }

    public SigningCredentials Ec { get; }

    public bool Down { get; set; }

    public int RequestCount => Volatile.Read(ref _requests);

    public void Rotate() => _rotated = true;

    public void Dispose()
    {
        _app.StopAsync().GetAwaiter().GetResult();
        ((IDisposable)_app).Dispose();
        _rsa1.Dispose();
        _rsa2.Dispose();
        _ec.Dispose();
    }

    private string KeySet()
    {
        List<string> keys = [RsaJwk("rsa-1", _rsa1), EcJwk("ec-1", _ec)];
        if (_rotated)
        {
            keys.Add(RsaJwk("rsa-2", _rsa2));
        }

        return $"{{\"keys\":[{string.Join(',', keys)}]}}";
    }

    private static string RsaJwk(string kid, RSA rsa)
    {
        var key = rsa.ExportParameters(includePrivateParameters: false);
        return $"{{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"{kid}\",\"n\":\"{Base64UrlEncoder.Encode(key.Modulus)}\",\"e\":\"{Base64UrlEncoder.Encode(key.Exponent)}\"}}";
    }

    private static string EcJwk(string kid, ECDsa ec)
    {
        var key = ec.ExportParameters(includePrivateParameters: false);
        return $"{{\"kty\":\"EC\",\"use\":\"sig\",\"kid\":\"{kid}\",\"crv\":\"P-256\",\"x\":\"{Base64UrlEncoder.Encode(key.Q.X)}\",\"y\":\"{Base64UrlEncoder.Encode(key.Q.Y)}\"}}";
    }
}

/// <summary>The host with a Jwt authenticator checking the keys of a <see cref="JwksServer"/> (Timeout 2 s, FailurePolicy Deny). Bans are off.</summary>
public sealed class JwksHost : IDisposable
{
    public const string Name = "Security:Authenticators:0";

    public JwksHost()
    {
        Jwks = new JwksServer();
        Host = new InteropHost(new Dictionary<string, string>
        {
            [$"{Name}:Type"] = "Jwt",
            [$"{Name}:JwksUrl"] = Jwks.Url.ToString(),
            [$"{Name}:Issuer"] = Tokens.Issuer,
            [$"{Name}:Timeout"] = "00:00:02",
            ["Security:Bans:Enabled"] = "false",
        });
    }

    public JwksServer Jwks { get; }

    public InteropHost Host { get; }

    public void Dispose()
    {
        Host.Dispose();
        Jwks.Dispose();
    }
}
