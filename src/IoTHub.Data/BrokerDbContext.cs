using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data;

/// <summary>
/// The schema of every relational store. Names are snake_case and spelled out here, because the
/// write path (<see cref="Stores.RelationalBrokerStore"/>) uses them in its SQL.
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

    public DbSet<UserEntity> Users => Set<UserEntity>();

    public DbSet<RoleEntity> Roles => Set<RoleEntity>();

    public DbSet<UserRoleEntity> UserRoles => Set<UserRoleEntity>();

    public DbSet<AclRuleEntity> AclRules => Set<AclRuleEntity>();

    public DbSet<AdminAccountEntity> AdminAccounts => Set<AdminAccountEntity>();

    public DbSet<AdminApiKeyEntity> AdminApiKeys => Set<AdminApiKeyEntity>();

    public DbSet<AuditEntryEntity> AuditLog => Set<AuditEntryEntity>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);

        modelBuilder.Entity<RetainedMessageEntity>(e =>
        {
            e.ToTable("retained_messages");
            e.HasKey(x => x.Topic);
            e.Property(x => x.Topic).HasColumnName("topic");
            e.Property(x => x.QualityOfService).HasColumnName("qos");
            e.Property(x => x.Retain).HasColumnName("retain");
            e.Property(x => x.Properties).HasColumnName("properties");
            e.Property(x => x.Payload).HasColumnName("payload");
            e.Property(x => x.ExpiresAt).HasColumnName("expires_at");
        });

        modelBuilder.Entity<SessionEntity>(e =>
        {
            e.ToTable("sessions");
            e.HasKey(x => x.ClientId);
            e.Property(x => x.ClientId).HasColumnName("client_id");
            e.Property(x => x.ExpiryInterval).HasColumnName("expiry_interval");
            e.Property(x => x.DisconnectedAt).HasColumnName("disconnected_at");
        });

        modelBuilder.Entity<SubscriptionEntity>(e =>
        {
            e.ToTable("subscriptions");
            e.HasKey(x => new { x.ClientId, x.TopicFilter });
            SessionChild(e);
            e.Property(x => x.TopicFilter).HasColumnName("topic_filter");
            e.Property(x => x.QualityOfService).HasColumnName("qos");
            e.Property(x => x.NoLocal).HasColumnName("no_local");
            e.Property(x => x.RetainAsPublished).HasColumnName("retain_as_published");
            e.Property(x => x.RetainHandling).HasColumnName("retain_handling");
            e.Property(x => x.SubscriptionId).HasColumnName("subscription_id");
        });

        modelBuilder.Entity<QueuedMessageEntity>(e =>
        {
            e.ToTable("queued_messages");
            e.HasKey(x => new { x.ClientId, x.Sequence });
            SessionChild(e);
            e.Property(x => x.Sequence).HasColumnName("sequence").ValueGeneratedNever();
            e.Property(x => x.QualityOfService).HasColumnName("qos");
            e.Property(x => x.Retain).HasColumnName("retain");
            e.Property(x => x.ExpiresAt).HasColumnName("expires_at");
            MessageColumns(e);
        });

        modelBuilder.Entity<OutgoingInflightEntity>(e =>
        {
            e.ToTable("outgoing_inflight");
            e.HasKey(x => new { x.ClientId, x.PacketId });
            SessionChild(e);
            e.Property(x => x.PacketId).HasColumnName("packet_id").ValueGeneratedNever();
            e.Property(x => x.Sequence).HasColumnName("sequence");
            e.Property(x => x.QualityOfService).HasColumnName("qos");
            e.Property(x => x.Retain).HasColumnName("retain");
            e.Property(x => x.Released).HasColumnName("released");
            e.Property(x => x.ExpiresAt).HasColumnName("expires_at");
            MessageColumns(e);
        });

        modelBuilder.Entity<IncomingQos2Entity>(e =>
        {
            e.ToTable("incoming_qos2");
            e.HasKey(x => new { x.ClientId, x.PacketId });
            SessionChild(e);
            e.Property(x => x.PacketId).HasColumnName("packet_id").ValueGeneratedNever();
        });

        modelBuilder.Entity<PendingWillEntity>(e =>
        {
            e.ToTable("pending_wills");
            e.HasKey(x => x.ClientId);
            e.Property(x => x.ClientId).HasColumnName("client_id");
            e.Property(x => x.DelayInterval).HasColumnName("delay_interval");
            e.Property(x => x.DueAt).HasColumnName("due_at");
            e.Property(x => x.ExpiryInterval).HasColumnName("expiry_interval");
            MessageColumns(e);
        });

        modelBuilder.Entity<UserEntity>(e =>
        {
            e.ToTable("users");
            e.Property(x => x.Id).HasColumnName("id");
            e.Property(x => x.UserName).HasColumnName("user_name").HasMaxLength(256);
            e.Property(x => x.PasswordHash).HasColumnName("password_hash");
            e.Property(x => x.Enabled).HasColumnName("enabled");
            e.HasIndex(x => x.UserName).IsUnique();
        });

        modelBuilder.Entity<RoleEntity>(e =>
        {
            e.ToTable("roles");
            e.Property(x => x.Id).HasColumnName("id");
            e.Property(x => x.Name).HasColumnName("name").HasMaxLength(256);
            e.HasIndex(x => x.Name).IsUnique();
        });

        modelBuilder.Entity<UserRoleEntity>(e =>
        {
            e.ToTable("user_roles");
            e.HasKey(x => new { x.UserId, x.RoleId });
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.RoleId).HasColumnName("role_id");
            e.HasOne<UserEntity>().WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<RoleEntity>().WithMany().HasForeignKey(x => x.RoleId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<AclRuleEntity>(e =>
        {
            e.ToTable("acl_rules");
            e.Property(x => x.Id).HasColumnName("id");
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.RoleId).HasColumnName("role_id");
            e.Property(x => x.ClientId).HasColumnName("client_id");
            e.Property(x => x.TopicFilter).HasColumnName("topic_filter");
            e.Property(x => x.Action).HasColumnName("action");
            e.Property(x => x.Allow).HasColumnName("allow");
            e.Property(x => x.Priority).HasColumnName("priority");
            e.HasOne<UserEntity>().WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<RoleEntity>().WithMany().HasForeignKey(x => x.RoleId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<AdminAccountEntity>(e =>
        {
            e.ToTable("admin_accounts");
            e.Property(x => x.Id).HasColumnName("id");
            e.Property(x => x.UserName).HasColumnName("user_name").HasMaxLength(256);
            e.Property(x => x.PasswordHash).HasColumnName("password_hash");
            e.Property(x => x.Role).HasColumnName("role").HasMaxLength(32);
            e.Property(x => x.CreatedAt).HasColumnName("created_at");
            e.HasIndex(x => x.UserName).IsUnique();
        });

        modelBuilder.Entity<AdminApiKeyEntity>(e =>
        {
            e.ToTable("admin_api_keys");
            e.Property(x => x.Id).HasColumnName("id");
            e.Property(x => x.Name).HasColumnName("name").HasMaxLength(256);
            e.Property(x => x.KeyHash).HasColumnName("key_hash").HasMaxLength(64);
            e.Property(x => x.Role).HasColumnName("role").HasMaxLength(32);
            e.Property(x => x.CreatedBy).HasColumnName("created_by").HasMaxLength(256);
            e.Property(x => x.CreatedAt).HasColumnName("created_at");
            e.HasIndex(x => x.KeyHash).IsUnique();
        });

        modelBuilder.Entity<AuditEntryEntity>(e =>
        {
            e.ToTable("audit_log");
            e.Property(x => x.Id).HasColumnName("id");
            e.Property(x => x.At).HasColumnName("at");
            e.Property(x => x.Actor).HasColumnName("actor").HasMaxLength(256);
            e.Property(x => x.Action).HasColumnName("action");
            e.Property(x => x.Status).HasColumnName("status");
            e.Property(x => x.RemoteAddress).HasColumnName("remote_address").HasMaxLength(64);
            e.HasIndex(x => x.At);
        });
    }

    private static void SessionChild<T>(EntityTypeBuilder<T> e)
        where T : class
    {
        e.Property<string>("ClientId").HasColumnName("client_id");
        e.HasOne<SessionEntity>().WithMany().HasForeignKey("ClientId").OnDelete(DeleteBehavior.Cascade);
    }

    private static void MessageColumns<T>(EntityTypeBuilder<T> e)
        where T : MessageRow
    {
        e.Property(x => x.Topic).HasColumnName("topic");
        e.Property(x => x.MessageQualityOfService).HasColumnName("message_qos");
        e.Property(x => x.MessageRetain).HasColumnName("message_retain");
        e.Property(x => x.Properties).HasColumnName("properties");
        e.Property(x => x.Payload).HasColumnName("payload");
    }
}
