using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class RetainedMessageConfiguration : IEntityTypeConfiguration<RetainedMessageEntity>
{
    public void Configure(EntityTypeBuilder<RetainedMessageEntity> e)
    {
        e.ToTable("retained_messages");
        e.HasKey(x => x.Topic);
        e.Property(x => x.Topic).HasColumnName("topic");
        e.Property(x => x.QualityOfService).HasColumnName("qos");
        e.Property(x => x.Retain).HasColumnName("retain");
        e.Property(x => x.Properties).HasColumnName("properties");
        e.Property(x => x.Payload).HasColumnName("payload");
        e.Property(x => x.ExpiresAt).HasColumnName("expires_at");
        e.Property(x => x.StoredAt).HasColumnName("stored_at");
        e.Property(x => x.PublisherClientId).HasColumnName("publisher_client_id");
        e.Property(x => x.PublisherUserName).HasColumnName("publisher_user_name");
    }
}
