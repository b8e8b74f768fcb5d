using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class IncomingQos2Configuration : IEntityTypeConfiguration<IncomingQos2Entity>
{
    public void Configure(EntityTypeBuilder<IncomingQos2Entity> e)
    {
        e.ToTable("incoming_qos2");
        e.HasKey(x => new { x.ClientId, x.PacketId });
        e.BelongsToSession();
        e.Property(x => x.PacketId).HasColumnName("packet_id").ValueGeneratedNever();
    }
}
