using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data;

/// <summary>
/// Contexts on one database for the work beside the broker's store (the admin stores, the readiness
/// check): one per unit of work, disposed after it. The broker's store keeps a context of its own.
/// </summary>
public sealed class BrokerDbContextFactory(DbContextOptions<BrokerDbContext> options) : IDbContextFactory<BrokerDbContext>
{
    public BrokerDbContext CreateDbContext() => new(options);
}
