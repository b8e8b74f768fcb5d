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

    public Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken) => Task.FromResult(_users.TryRemove(userName, out _));

    /// <summary>To the millisecond, as the databases keep them.</summary>
    private static MqttUser Truncated(MqttUser user) =>
        user with { CreatedAt = ToMilliseconds(user.CreatedAt), ChangedAt = ToMilliseconds(user.ChangedAt) };

    private static DateTimeOffset ToMilliseconds(DateTimeOffset time) => DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());
}
