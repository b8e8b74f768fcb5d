using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data;

/// <summary>
/// The schema of every relational store. Names are snake_case and spelled out in each entity's
/// configuration (Configurations/), because the write path (<see cref="Stores.RelationalBrokerStore"/>)
/// uses them in its SQL.
/// </summary>
public sealed class BrokerDbContext(DbContextOptions<BrokerDbContext> options) : DbContext(options)
{
    public DbSet<RetainedMessageEntity> RetainedMessages => Set<RetainedMessageEntity>();

    public DbSet<SessionEntity> Sessions => Set<SessionEntity>();

    public DbSet<SubscriptionEntity> Subscriptions => Set<SubscriptionEntity>();

    public DbSet<QueuedMessageEntity> QueuedMessages => Set<QueuedMessageEntity>();

    public DbSet<OutgoingInflightEntity> OutgoingInflight => Set<OutgoingInflightEntity>();

    public DbSet<IncomingQos2Entity> IncomingQos2 => Set<IncomingQos2Entity>();

    public DbSet<PendingWillEntity> PendingWills => Set<PendingWillEntity>();

    public DbSet<ConnectionWillEntity> ConnectionWills => Set<ConnectionWillEntity>();

    public DbSet<UserEntity> MqttUsers => Set<UserEntity>();

    public DbSet<RoleEntity> Roles => Set<RoleEntity>();

    public DbSet<UserRoleEntity> UserRoles => Set<UserRoleEntity>();

    public DbSet<AclRuleEntity> AclRules => Set<AclRuleEntity>();

    public DbSet<AdminAccountEntity> AdminAccounts => Set<AdminAccountEntity>();

    public DbSet<AdminApiKeyEntity> AdminApiKeys => Set<AdminApiKeyEntity>();

    public DbSet<AuditEntryEntity> AuditLog => Set<AuditEntryEntity>();

    public DbSet<AccessAuditEntryEntity> AccessAuditLog => Set<AccessAuditEntryEntity>();

    public DbSet<ClusterVersionEntity> ClusterVersions => Set<ClusterVersionEntity>();

    public DbSet<ClusterMemberEntity> ClusterMembers => Set<ClusterMemberEntity>();

    public DbSet<ForwardFenceEntity> ForwardFences => Set<ForwardFenceEntity>();

    public DbSet<ForwardReceiptEntity> ForwardReceipts => Set<ForwardReceiptEntity>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);

        // One IEntityTypeConfiguration per entity, in Configurations/.
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(BrokerDbContext).Assembly);
    }
}
