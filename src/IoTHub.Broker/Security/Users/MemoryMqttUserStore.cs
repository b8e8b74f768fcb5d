using System.Collections.Concurrent;

namespace IoTHub.Broker.Security.Users;

/// <summary>Users for as long as the process runs: the store of the memory and file storage providers.</summary>
public sealed class MemoryMqttUserStore : IMqttUserStore
{
    private readonly ConcurrentDictionary<string, MqttUser> _users = new(StringComparer.Ordinal);

    public Task<MqttUser?> FindAsync(string userName, CancellationToken cancellationToken) => Task.FromResult(_users.GetValueOrDefault(userName));

    public Task<IReadOnlyList<MqttUser>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<MqttUser>>([.. _users.Values.OrderBy(static u => u.UserName, StringComparer.Ordinal)]);

    public Task<bool> AddAsync(MqttUser user, CancellationToken cancellationToken) => Task.FromResult(_users.TryAdd(user.UserName, Truncated(user)));

    public Task<bool> UpdateAsync(MqttUser user, CancellationToken cancellationToken)
    {
        while (_users.TryGetValue(user.UserName, out var stored))
        {
            if (_users.TryUpdate(user.UserName, Truncated(user with { CreatedAt = stored.CreatedAt }), stored))
            {
                return Task.FromResult(true);
            }
        }

        return Task.FromResult(false);
    }

    public Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken)
    {
        if (!_users.TryRemove(userName, out _))
        {
            return Task.FromResult(false);
        }

        Deleted?.Invoke(userName);
        return Task.FromResult(true);
    }

    /// <summary>Raised after a user was deleted: what belongs to it elsewhere in memory goes too, as the database's foreign keys do it there.</summary>
    internal event Action<string>? Deleted;

    internal bool Contains(string userName) => _users.ContainsKey(userName);

    internal IEnumerable<string> Superusers()
    {
        foreach (var (name, user) in _users)
        {
            if (user.Superuser)
            {
                yield return name;
            }
        }
    }

    /// <summary>To the millisecond, as the databases keep them.</summary>
    private static MqttUser Truncated(MqttUser user) =>
        user with { CreatedAt = ToMilliseconds(user.CreatedAt), ChangedAt = ToMilliseconds(user.ChangedAt) };

    /// <summary>A time to the millisecond, as the databases keep it.</summary>
    internal static DateTimeOffset ToMilliseconds(DateTimeOffset time) => DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());
}
