using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class RoleConfiguration : IEntityTypeConfiguration<RoleEntity>
{
    public void Configure(EntityTypeBuilder<RoleEntity> e)
    {
        e.ToTable("roles");
        e.Property(x => x.Id).HasColumnName("id");
        e.Property(x => x.Name).HasColumnName("name").HasMaxLength(256);
        e.Property(x => x.Description).HasColumnName("description").HasMaxLength(1024);
        e.Property(x => x.CreatedAt).HasColumnName("created_at");
        e.Property(x => x.ChangedAt).HasColumnName("changed_at");
        e.HasIndex(x => x.Name).IsUnique();
    }
}
