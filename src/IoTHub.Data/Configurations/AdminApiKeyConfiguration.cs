using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class AdminApiKeyConfiguration : IEntityTypeConfiguration<AdminApiKeyEntity>
{
    public void Configure(EntityTypeBuilder<AdminApiKeyEntity> e)
    {
        e.ToTable("admin_api_keys");
        e.Property(x => x.Id).HasColumnName("id");
        e.Property(x => x.Name).HasColumnName("name").HasMaxLength(256);
        e.Property(x => x.KeyHash).HasColumnName("key_hash").HasMaxLength(64);
        e.Property(x => x.Role).HasColumnName("role").HasMaxLength(32);
        e.Property(x => x.CreatedBy).HasColumnName("created_by").HasMaxLength(256);
        e.Property(x => x.CreatedAt).HasColumnName("created_at");
        e.HasIndex(x => x.KeyHash).IsUnique();
    }
}
