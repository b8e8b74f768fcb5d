using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class OutgoingInflightConfiguration : IEntityTypeConfiguration<OutgoingInflightEntity>
{
    public void Configure(EntityTypeBuilder<OutgoingInflightEntity> e)
    {
        e.ToTable("outgoing_inflight");
        e.HasKey(x => new { x.ClientId, x.PacketId });
        e.BelongsToSession();
        e.Property(x => x.PacketId).HasColumnName("packet_id").ValueGeneratedNever();
        e.Property(x => x.Sequence).HasColumnName("sequence");
        e.Property(x => x.QualityOfService).HasColumnName("qos");
        e.Property(x => x.Retain).HasColumnName("retain");
        e.Property(x => x.Released).HasColumnName("released");
        e.Property(x => x.ExpiresAt).HasColumnName("expires_at");
        e.HasMessageColumns();
    }
}
