using System.Security.Cryptography;
using System.Text;
using IoTHub.Data.Admin.ApiKeys;

namespace IoTHub.Web.Auth;

/// <summary>
/// API keys for scripts, sent as the X-Api-Key header. A key is "iothub_" and 256 random bits; only
/// its SHA-256 is kept (a slow hash would add nothing for a random key of that length, and would cost
/// every request), in the store <see cref="IoTHub.Data.Admin.AdminStores"/> chose.
/// </summary>
internal sealed class AdminApiKeys(IAdminApiKeyStore store, TimeProvider time)
{
    public const string Header = "X-Api-Key";
    private const string Prefix = "iothub_";

    /// <summary>Makes a key; the returned text is the only time the key exists outside the caller.</summary>
    public async Task<(AdminApiKey Key, string Secret)> CreateAsync(string name, string role, string createdBy, CancellationToken cancellationToken)
    {
        var secret = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var key = await store.AddAsync(new AdminApiKey(0, name, Hash(secret), role, createdBy, time.GetUtcNow()), cancellationToken);
        return (key, secret);
    }

    /// <summary>The key's record when <paramref name="secret"/> is a live key; null otherwise.</summary>
    public Task<AdminApiKey?> VerifyAsync(string secret, CancellationToken cancellationToken) =>
        secret.StartsWith(Prefix, StringComparison.Ordinal) ? store.FindByHashAsync(Hash(secret), cancellationToken) : Task.FromResult<AdminApiKey?>(null);

    public Task<IReadOnlyList<AdminApiKey>> ListAsync(CancellationToken cancellationToken) => store.ListAsync(cancellationToken);

    /// <summary>Revokes a key: it stops working with the next request. False when there is no such key.</summary>
    public Task<bool> RevokeAsync(int id, CancellationToken cancellationToken) => store.DeleteAsync(id, cancellationToken);

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
