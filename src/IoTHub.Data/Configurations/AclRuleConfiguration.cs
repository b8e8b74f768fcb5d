using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class AclRuleConfiguration : IEntityTypeConfiguration<AclRuleEntity>
{
    public void Configure(EntityTypeBuilder<AclRuleEntity> e)
    {
        e.ToTable("acl_rules");
        e.Property(x => x.Id).HasColumnName("id");
        e.Property(x => x.UserId).HasColumnName("user_id");
        e.Property(x => x.RoleId).HasColumnName("role_id");
        e.Property(x => x.ClientId).HasColumnName("client_id");
        e.Property(x => x.TopicFilter).HasColumnName("topic_filter");
        e.Property(x => x.Action).HasColumnName("action");
        e.Property(x => x.Allow).HasColumnName("allow");
        e.Property(x => x.Priority).HasColumnName("priority");
        e.HasOne<UserEntity>().WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Cascade);
        e.HasOne<RoleEntity>().WithMany().HasForeignKey(x => x.RoleId).OnDelete(DeleteBehavior.Cascade);
    }
}
