using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class UserConfiguration : IEntityTypeConfiguration<UserEntity>
{
    public void Configure(EntityTypeBuilder<UserEntity> e)
    {
        e.ToTable("users");
        e.Property(x => x.Id).HasColumnName("id");
        e.Property(x => x.UserName).HasColumnName("user_name").HasMaxLength(256);
        e.Property(x => x.PasswordHash).HasColumnName("password_hash");
        e.Property(x => x.Enabled).HasColumnName("enabled");
        e.HasIndex(x => x.UserName).IsUnique();
    }
}
