using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using IoTHub.Data;
using IoTHub.Data.Entities;
using IoTHub.Web.Configuration;
using IoTHub.Web.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Auth;

/// <summary>An API key as stored: its SHA-256, never the key.</summary>
internal sealed record ApiKey(int Id, string Name, string KeyHash, string Role, string CreatedBy, DateTimeOffset CreatedAt);

/// <summary>
/// API keys for scripts, sent as the X-Api-Key header. A key is "iothub_" and 256 random bits; only
/// its SHA-256 is kept (a slow hash would add nothing for a random key of that length, and would cost
/// every request), in the database with sqlite/postgres, in memory otherwise.
/// </summary>
internal sealed class AdminApiKeys(IOptions<StorageOptions> storage, IHostEnvironment environment, TimeProvider time)
{
    public const string Header = "X-Api-Key";
    private const string Prefix = "iothub_";

    private readonly DbContextOptions<BrokerDbContext>? _database = BrokerStorage.RelationalContextOptions(storage.Value, environment);
    private readonly ConcurrentDictionary<int, ApiKey> _memory = new();
    private int _lastMemoryId;

    /// <summary>Makes a key; the returned text is the only time the key exists outside the caller.</summary>
    public async Task<(ApiKey Key, string Secret)> CreateAsync(string name, string role, string createdBy, CancellationToken cancellationToken)
    {
        var secret = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var key = new ApiKey(0, name, Hash(secret), role, createdBy, time.GetUtcNow());
        if (_database is null)
        {
            key = key with { Id = Interlocked.Increment(ref _lastMemoryId) };
            _memory[key.Id] = key;
            return (key, secret);
        }

        await using var context = new BrokerDbContext(_database);
        var entity = new AdminApiKeyEntity
        {
            Name = key.Name,
            KeyHash = key.KeyHash,
            Role = key.Role,
            CreatedBy = key.CreatedBy,
            CreatedAt = key.CreatedAt.ToUnixTimeMilliseconds(),
        };
        context.AdminApiKeys.Add(entity);
        await context.SaveChangesAsync(cancellationToken);
        return (key with { Id = entity.Id }, secret);
    }

    /// <summary>The key's record when <paramref name="secret"/> is a live key; null otherwise.</summary>
    public async Task<ApiKey?> VerifyAsync(string secret, CancellationToken cancellationToken)
    {
        if (!secret.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var hash = Hash(secret);
        if (_database is null)
        {
            return _memory.Values.FirstOrDefault(k => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(k.KeyHash), Encoding.ASCII.GetBytes(hash)));
        }

        await using var context = new BrokerDbContext(_database);
        var entity = await context.AdminApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.KeyHash == hash, cancellationToken);
        return entity is null ? null : ToKey(entity);
    }

    public async Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken)
    {
        if (_database is null)
        {
            return [.. _memory.Values.OrderBy(static k => k.Id)];
        }

        await using var context = new BrokerDbContext(_database);
        var entities = await context.AdminApiKeys.AsNoTracking().OrderBy(static k => k.Id).ToListAsync(cancellationToken);
        return [.. entities.Select(ToKey)];
    }

    /// <summary>Revokes a key: it stops working with the next request. False when there is no such key.</summary>
    public async Task<bool> RevokeAsync(int id, CancellationToken cancellationToken)
    {
        if (_database is null)
        {
            return _memory.TryRemove(id, out _);
        }

        await using var context = new BrokerDbContext(_database);
        return await context.AdminApiKeys.Where(k => k.Id == id).ExecuteDeleteAsync(cancellationToken) > 0;
    }

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static ApiKey ToKey(AdminApiKeyEntity e) =>
        new(e.Id, e.Name, e.KeyHash, e.Role, e.CreatedBy, DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt));
}
