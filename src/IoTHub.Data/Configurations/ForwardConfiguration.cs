using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

internal sealed class ForwardFenceConfiguration : IEntityTypeConfiguration<ForwardFenceEntity>
{
    public void Configure(EntityTypeBuilder<ForwardFenceEntity> e)
    {
        e.ToTable("forward_fences");
        e.HasKey(x => x.Node);
        e.Property(x => x.Node).HasColumnName("node");
        e.Property(x => x.Fenced).HasColumnName("fenced");
        e.Property(x => x.TouchedAt).HasColumnName("touched_at");
    }
}

internal sealed class ForwardReceiptConfiguration : IEntityTypeConfiguration<ForwardReceiptEntity>
{
    public void Configure(EntityTypeBuilder<ForwardReceiptEntity> e)
    {
        e.ToTable("forward_receipts");
        e.HasKey(x => new { x.FromNode, x.ToNode, x.Sequence });
        e.Property(x => x.FromNode).HasColumnName("from_node");
        e.Property(x => x.ToNode).HasColumnName("to_node");
        e.Property(x => x.Sequence).HasColumnName("sequence");
    }
}
