using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class SubscriptionConfiguration : IEntityTypeConfiguration<SubscriptionEntity>
{
    public void Configure(EntityTypeBuilder<SubscriptionEntity> e)
    {
        e.ToTable("subscriptions");
        e.HasKey(x => new { x.ClientId, x.TopicFilter });
        e.BelongsToSession();
        e.Property(x => x.TopicFilter).HasColumnName("topic_filter");
        e.Property(x => x.QualityOfService).HasColumnName("qos");
        e.Property(x => x.NoLocal).HasColumnName("no_local");
        e.Property(x => x.RetainAsPublished).HasColumnName("retain_as_published");
        e.Property(x => x.RetainHandling).HasColumnName("retain_handling");
        e.Property(x => x.SubscriptionId).HasColumnName("subscription_id");
    }
}
