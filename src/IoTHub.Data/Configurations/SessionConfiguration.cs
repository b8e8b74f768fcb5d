using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class SessionConfiguration : IEntityTypeConfiguration<SessionEntity>
{
    public void Configure(EntityTypeBuilder<SessionEntity> e)
    {
        e.ToTable("sessions");
        e.HasKey(x => x.ClientId);
        e.Property(x => x.ClientId).HasColumnName("client_id");
        e.Property(x => x.ExpiryInterval).HasColumnName("expiry_interval");
        e.Property(x => x.DisconnectedAt).HasColumnName("disconnected_at");
        e.Property(x => x.OwnerNode).HasColumnName("owner_node");

        // A clustered node loads the sessions it owns at start.
        e.HasIndex(x => x.OwnerNode);
    }
}
