using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class ConnectionWillConfiguration : IEntityTypeConfiguration<ConnectionWillEntity>
{
    public void Configure(EntityTypeBuilder<ConnectionWillEntity> e)
    {
        e.ToTable("connection_wills");
        e.HasKey(x => x.ClientId);
        e.Property(x => x.ClientId).HasColumnName("client_id");
        e.Property(x => x.OwnerNode).HasColumnName("owner_node");
        e.Property(x => x.Connection).HasColumnName("connection");
        e.Property(x => x.DelayInterval).HasColumnName("delay_interval");
        e.Property(x => x.ExpiryInterval).HasColumnName("expiry_interval");
        e.HasMessageColumns();

        // A survivor takes the wills of a dead node by its name.
        e.HasIndex(x => x.OwnerNode);
    }
}
