using IoTHub.Broker.Security.Roles;
using IoTHub.Broker.Security.Users;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Roles;

/// <summary>
/// Where roles, memberships and stored access rules live, decided as for the users (<see cref="MqttUsers.MqttUserStores"/>):
/// the broker's database when it has one, memory beside the users in memory otherwise.
/// </summary>
public static class AclStores
{
    /// <param name="database">Contexts on the broker's database; null for none.</param>
    /// <param name="users">The users' store made for the same <paramref name="database"/>.</param>
    public static IAclStore Create(IDbContextFactory<BrokerDbContext>? database, IMqttUserStore users) => database is not null
        ? new RelationalAclStore(database)
        : users is MemoryMqttUserStore memory
            ? new MemoryAclStore(memory)
            : throw new ArgumentException("Without a database the users are in memory.", nameof(users));
}
