using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace IoTHub.Broker.Security;

/// <summary>
/// Decisions of the <see cref="AuthenticationChain"/> by (user name, password, client id), each kept for a fixed time.
/// The password is never kept: the key holds an HMAC-SHA256 of it under a random key made at start, so a memory dump
/// shows neither the password nor a hash that could be looked up in a table. Entries are grouped by user name, so a
/// user's entries go at once when that user changes. Bounded: beyond <see cref="Capacity"/> entries, expired ones are
/// swept (at most once a second) and new decisions are not cached while it stays full.
/// </summary>
internal sealed class AuthenticationCache(TimeSpan duration, TimeProvider time)
{
    public const int Capacity = 100_000;

    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    private readonly byte[] _hmacKey = RandomNumberGenerator.GetBytes(32);
    private readonly Lock _sweep = new();
    private ConcurrentDictionary<string, ConcurrentDictionary<CredentialKey, Entry>> _users = new(StringComparer.Ordinal);
    private long _generation;
    private int _count;
    private long _lastSweep = time.GetTimestamp();

    /// <summary>Changes whenever entries are dropped: a decision made before a change is not stored after it.</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>Cached decisions, expired ones not yet swept included.</summary>
    public int Count => Volatile.Read(ref _count);

    public bool TryGet(string userName, byte[]? password, string clientId, out CachedDecision decision)
    {
        decision = default;
        if (!_users.TryGetValue(userName, out var entries))
        {
            return false;
        }

        var key = Key(password, clientId);
        if (!entries.TryGetValue(key, out var entry))
        {
            return false;
        }

        if (time.GetElapsedTime(entry.StoredAt) >= duration)
        {
            Remove(entries, key);
            return false;
        }

        decision = entry.Decision;
        return true;
    }

    /// <summary>Stores a decision made while the cache was at <paramref name="generation"/>; a decision made before a change is dropped.</summary>
    public void Store(string userName, byte[]? password, string clientId, CachedDecision decision, long generation)
    {
        if (Count >= Capacity && !SweepExpired())
        {
            return;
        }

        var entries = _users.GetOrAdd(userName, static _ => new ConcurrentDictionary<CredentialKey, Entry>());
        var key = Key(password, clientId);
        if (entries.TryAdd(key, new Entry(decision, time.GetTimestamp())))
        {
            Interlocked.Increment(ref _count);
        }

        if (Generation != generation)
        {
            // Dropped while the authenticators were deciding: what they read may be stale.
            Remove(entries, key);
        }
    }

    public void Forget(string userName)
    {
        Interlocked.Increment(ref _generation);
        if (_users.TryRemove(userName, out var entries))
        {
            Interlocked.Add(ref _count, -entries.Count);
        }
    }

    public void Clear()
    {
        Interlocked.Increment(ref _generation);
        _users = new ConcurrentDictionary<string, ConcurrentDictionary<CredentialKey, Entry>>(StringComparer.Ordinal);
        Volatile.Write(ref _count, 0);
    }

    /// <summary>Removes expired entries, at most once per <see cref="SweepInterval"/>; true when there is room afterwards.</summary>
    private bool SweepExpired()
    {
        lock (_sweep)
        {
            if (time.GetElapsedTime(_lastSweep) >= SweepInterval)
            {
                _lastSweep = time.GetTimestamp();
                foreach (var (_, entries) in _users)
                {
                    foreach (var (key, entry) in entries)
                    {
                        if (time.GetElapsedTime(entry.StoredAt) >= duration)
                        {
                            Remove(entries, key);
                        }
                    }
                }
            }

            return Count < Capacity;
        }
    }

    private void Remove(ConcurrentDictionary<CredentialKey, Entry> entries, CredentialKey key)
    {
        if (entries.TryRemove(key, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>The client id and the HMAC of the password; a missing password and an empty one differ.</summary>
    private CredentialKey Key(byte[]? password, string clientId)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_hmacKey, password ?? [], mac);
        return new CredentialKey(clientId, password is not null, new UInt128(BitConverter.ToUInt64(mac), BitConverter.ToUInt64(mac[8..])),
            new UInt128(BitConverter.ToUInt64(mac[16..]), BitConverter.ToUInt64(mac[24..])));
    }

    private readonly record struct CredentialKey(string ClientId, bool HasPassword, UInt128 MacLow, UInt128 MacHigh);

    private sealed record Entry(CachedDecision Decision, long StoredAt);
}
