using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class AuditEntryConfiguration : IEntityTypeConfiguration<AuditEntryEntity>
{
    public void Configure(EntityTypeBuilder<AuditEntryEntity> e)
    {
        e.ToTable("audit_log");
        e.Property(x => x.Id).HasColumnName("id");
        e.Property(x => x.At).HasColumnName("at");
        e.Property(x => x.Actor).HasColumnName("actor").HasMaxLength(256);
        e.Property(x => x.Action).HasColumnName("action");
        e.Property(x => x.Status).HasColumnName("status");
        e.Property(x => x.RemoteAddress).HasColumnName("remote_address").HasMaxLength(64);
        e.Property(x => x.Source).HasColumnName("source").HasMaxLength(16);
        e.HasIndex(x => x.At);
    }
}
