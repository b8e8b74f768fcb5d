using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class PendingWillConfiguration : IEntityTypeConfiguration<PendingWillEntity>
{
    public void Configure(EntityTypeBuilder<PendingWillEntity> e)
    {
        e.ToTable("pending_wills");
        e.HasKey(x => x.ClientId);
        e.Property(x => x.ClientId).HasColumnName("client_id");
        e.Property(x => x.DelayInterval).HasColumnName("delay_interval");
        e.Property(x => x.DueAt).HasColumnName("due_at");
        e.Property(x => x.ExpiryInterval).HasColumnName("expiry_interval");
        e.HasMessageColumns();
    }
}
