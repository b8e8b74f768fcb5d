using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class AccessAuditEntryConfiguration : IEntityTypeConfiguration<AccessAuditEntryEntity>
{
    public void Configure(EntityTypeBuilder<AccessAuditEntryEntity> e)
    {
        e.ToTable("access_audit_log");
        e.Property(x => x.Id).HasColumnName("id");
        e.Property(x => x.At).HasColumnName("at");
        e.Property(x => x.Result).HasColumnName("result").HasMaxLength(16);
        e.Property(x => x.Broker).HasColumnName("broker");
        e.Property(x => x.Listener).HasColumnName("listener");
        e.Property(x => x.Address).HasColumnName("address");
        e.Property(x => x.UserName).HasColumnName("user_name");
        e.Property(x => x.ClientId).HasColumnName("client_id");
        e.Property(x => x.Action).HasColumnName("action").HasMaxLength(16);
        e.Property(x => x.Topic).HasColumnName("topic");
        e.Property(x => x.Rule).HasColumnName("rule");
        e.Property(x => x.Dropped).HasColumnName("dropped");

        // The searches by time, client and user; client ids and user names are recorded cut to 500 characters, which keeps
        // their index entries within PostgreSQL's limit.
        e.HasIndex(x => x.At);
        e.HasIndex(x => x.ClientId);
        e.HasIndex(x => x.UserName);
    }
}
