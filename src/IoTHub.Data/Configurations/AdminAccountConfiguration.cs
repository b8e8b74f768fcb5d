using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class AdminAccountConfiguration : IEntityTypeConfiguration<AdminAccountEntity>
{
    public void Configure(EntityTypeBuilder<AdminAccountEntity> e)
    {
        e.ToTable("admin_accounts");
        e.Property(x => x.Id).HasColumnName("id");
        e.Property(x => x.UserName).HasColumnName("user_name").HasMaxLength(256);
        e.Property(x => x.PasswordHash).HasColumnName("password_hash");
        e.Property(x => x.Role).HasColumnName("role").HasMaxLength(32);
        e.Property(x => x.CreatedAt).HasColumnName("created_at");
        e.Property(x => x.SignOuts).HasColumnName("sign_outs");
        e.HasIndex(x => x.UserName).IsUnique();
    }
}
