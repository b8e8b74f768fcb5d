namespace IoTHub.Broker.Security.Users;

/// <summary>
/// Where the built-in MQTT users are kept: the broker's database (SQLite, PostgreSQL), or memory for the memory and
/// file storage providers. Times are kept to the millisecond.
/// </summary>
public interface IMqttUserStore
{
    /// <summary>The user named exactly <paramref name="userName"/>; null when there is none.</summary>
    Task<MqttUser?> FindAsync(string userName, CancellationToken cancellationToken);

    /// <summary>Every user, ordered by user name (ordinal).</summary>
    Task<IReadOnlyList<MqttUser>> ListAsync(CancellationToken cancellationToken);

    /// <summary>False when a user of that name exists (it is left as it is).</summary>
    Task<bool> AddAsync(MqttUser user, CancellationToken cancellationToken);

    /// <summary>Replaces the user of the same name (its creation time is kept); false when there is none.</summary>
    Task<bool> UpdateAsync(MqttUser user, CancellationToken cancellationToken);

    /// <summary>False when there is no user of that name.</summary>
    Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken);
}
