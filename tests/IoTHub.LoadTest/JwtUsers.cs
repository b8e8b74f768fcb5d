using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace IoTHub.LoadTest;

/// <summary>
/// The connect-jwt scenario's tokens: IoTHub's <c>Type=Jwt</c> authenticator with an HMAC <c>Secret</c> of the tool's,
/// and one HS256 token the tool signs with it (<c>sub</c> the user name, <c>exp</c> a day ahead) as every client's
/// password, as docs/security.md's example makes one with openssl. The broker asks no one: each CONNECT checks the
/// signature and the claims again, since Jwt decisions are never cached (a cache entry could outlive <c>exp</c>), so
/// the scenario has no warm variant and nothing to count.
/// </summary>
internal sealed class JwtUsers : IAuthenticationBackend
{
    private const string User = "bench-jwt";

    public JwtUsers()
    {
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        Settings = new Dictionary<string, string> { ["Type"] = "Jwt", ["Secret"] = secret };
        var expiry = DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var signed = Part("""{"alg":"HS256","typ":"JWT"}""") + "." + Part($$"""{"sub":"{{User}}","exp":{{expiry}}}""");
        var signature = Base64Url.EncodeToString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(signed)));
        Credentials = new Credentials(User, Encoding.UTF8.GetBytes(signed + "." + signature), PasswordFile: null);
    }

    public IReadOnlyDictionary<string, string> Settings { get; }

    public Credentials Credentials { get; }

    public Task<string?> CountAsync() => Task.FromResult<string?>("no backend requests: each CONNECT checks its token's HS256 signature (never cached)");

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static string Part(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
}
