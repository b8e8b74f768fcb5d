using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class ClusterVersionConfiguration : IEntityTypeConfiguration<ClusterVersionEntity>
{
    public void Configure(EntityTypeBuilder<ClusterVersionEntity> e)
    {
        e.ToTable("cluster_versions");
        e.HasKey(x => x.ClusterId);
        e.Property(x => x.ClusterId).HasColumnName("cluster_id").HasMaxLength(256);
        e.Property(x => x.Version).HasColumnName("version");
    }
}

internal sealed class ClusterMemberConfiguration : IEntityTypeConfiguration<ClusterMemberEntity>
{
    public void Configure(EntityTypeBuilder<ClusterMemberEntity> e)
    {
        e.ToTable("cluster_members");
        e.HasKey(x => new { x.ClusterId, x.Address, x.Port, x.Generation });
        e.Property(x => x.ClusterId).HasColumnName("cluster_id").HasMaxLength(256);
        e.Property(x => x.Address).HasColumnName("address").HasMaxLength(64);
        e.Property(x => x.Port).HasColumnName("port");
        e.Property(x => x.Generation).HasColumnName("generation");
        e.Property(x => x.SiloName).HasColumnName("silo_name").HasMaxLength(256);
        e.Property(x => x.HostName).HasColumnName("host_name").HasMaxLength(256);
        e.Property(x => x.Status).HasColumnName("status");
        e.Property(x => x.ProxyPort).HasColumnName("proxy_port");
        e.Property(x => x.SuspectTimes).HasColumnName("suspect_times");
        e.Property(x => x.StartTime).HasColumnName("start_time");
        e.Property(x => x.IAmAliveTime).HasColumnName("i_am_alive_time");
        e.Property(x => x.ETag).HasColumnName("etag");
        e.HasOne<ClusterVersionEntity>().WithMany().HasForeignKey(x => x.ClusterId).OnDelete(DeleteBehavior.Cascade);
    }
}
