using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace IoTHub.Data.Admin.ApiKeys;

/// <summary>Keys that last as long as the process; ids count from 1.</summary>
internal sealed class MemoryAdminApiKeyStore : IAdminApiKeyStore
{
    private readonly ConcurrentDictionary<int, AdminApiKey> _keys = new();
    private int _lastId;

    public Task<AdminApiKey> AddAsync(AdminApiKey key, CancellationToken cancellationToken)
    {
        key = key with { Id = Interlocked.Increment(ref _lastId) };
        _keys[key.Id] = key;
        return Task.FromResult(key);
    }

    public Task<AdminApiKey?> FindByHashAsync(string keyHash, CancellationToken cancellationToken)
    {
        // Compared in constant time: how long a refusal takes tells nothing about the stored hashes.
        var wanted = Encoding.ASCII.GetBytes(keyHash);
        return Task.FromResult(_keys.Values.FirstOrDefault(k => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(k.KeyHash), wanted)));
    }

    public Task<IReadOnlyList<AdminApiKey>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<AdminApiKey>>([.. _keys.Values.OrderBy(static k => k.Id)]);

    public Task<bool> DeleteAsync(int id, CancellationToken cancellationToken) => Task.FromResult(_keys.TryRemove(id, out _));
}
