using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class QueuedMessageConfiguration : IEntityTypeConfiguration<QueuedMessageEntity>
{
    public void Configure(EntityTypeBuilder<QueuedMessageEntity> e)
    {
        e.ToTable("queued_messages");
        e.HasKey(x => new { x.ClientId, x.Sequence });
        e.BelongsToSession();
        e.Property(x => x.Sequence).HasColumnName("sequence").ValueGeneratedNever();
        e.Property(x => x.QualityOfService).HasColumnName("qos");
        e.Property(x => x.Retain).HasColumnName("retain");
        e.Property(x => x.ExpiresAt).HasColumnName("expires_at");
        e.HasMessageColumns();
    }
}
