using IoTHub.Broker.Security.Users;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.MqttUsers;

/// <summary>
/// Where the built-in MQTT users live, decided as for the admin stores (<see cref="Admin.AdminStores"/>): the broker's
/// database when it has one (SQLite, PostgreSQL), memory otherwise (the memory and file providers), for as long as the
/// process runs.
/// </summary>
public static class MqttUserStores
{
    /// <param name="database">Contexts on the broker's database; null for none.</param>
    public static IMqttUserStore Create(IDbContextFactory<BrokerDbContext>? database) =>
        database is null ? new MemoryMqttUserStore() : new RelationalMqttUserStore(database);
}
