using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class AclRuleConfiguration : IEntityTypeConfiguration<AclRuleEntity>
{
    public void Configure(EntityTypeBuilder<AclRuleEntity> e)
    {
        e.ToTable("acl_rules", static t =>
        {
            // A rule is for a user, a role or everyone: never for both a user and a role.
            t.HasCheckConstraint("CK_acl_rules_one_owner", "user_id IS NULL OR role_id IS NULL");
            t.HasCheckConstraint("CK_acl_rules_actions", "actions BETWEEN 1 AND 3");
        });
        e.Property(x => x.Id).HasColumnName("id");
        e.Property(x => x.UserId).HasColumnName("user_id");
        e.Property(x => x.RoleId).HasColumnName("role_id");
        e.Property(x => x.TopicFilter).HasColumnName("topic_filter");
        e.Property(x => x.Actions).HasColumnName("actions").HasConversion<short>();
        e.Property(x => x.Allow).HasColumnName("allow");
        e.Property(x => x.Pattern).HasColumnName("pattern");
        e.HasOne(x => x.User).WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Cascade);
        e.HasOne(x => x.Role).WithMany().HasForeignKey(x => x.RoleId).OnDelete(DeleteBehavior.Cascade);
    }
}
