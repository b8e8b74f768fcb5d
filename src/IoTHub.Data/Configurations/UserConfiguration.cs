using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class UserConfiguration : IEntityTypeConfiguration<UserEntity>
{
    public void Configure(EntityTypeBuilder<UserEntity> e)
    {
        e.ToTable("mqtt_users");
        e.Property(x => x.Id).HasColumnName("id");
        e.Property(x => x.UserName).HasColumnName("user_name").HasMaxLength(256);
        e.Property(x => x.PasswordHash).HasColumnName("password_hash");
        e.Property(x => x.Enabled).HasColumnName("enabled");
        e.Property(x => x.ScramSha256).HasColumnName("scram_sha256");
        e.Property(x => x.ClientIdPattern).HasColumnName("client_id_pattern").HasMaxLength(256);
        e.Property(x => x.CreatedAt).HasColumnName("created_at");
        e.Property(x => x.ChangedAt).HasColumnName("changed_at");
        e.Property(x => x.Superuser).HasColumnName("superuser");
        e.HasIndex(x => x.UserName).IsUnique();
    }
}
