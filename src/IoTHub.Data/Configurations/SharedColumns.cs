using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace IoTHub.Data.Configurations;

/// <summary>Columns that several tables share.</summary>
internal static class SharedColumns
{
    /// <summary>A row of a session (client_id), deleted with it.</summary>
    public static void BelongsToSession<T>(this EntityTypeBuilder<T> e)
        where T : class
    {
        e.Property<string>("ClientId").HasColumnName("client_id");
        e.HasOne<SessionEntity>().WithMany().HasForeignKey("ClientId").OnDelete(DeleteBehavior.Cascade);
    }

    /// <summary>The columns of a stored message (<see cref="MessageRow"/>).</summary>
    public static void HasMessageColumns<T>(this EntityTypeBuilder<T> e)
        where T : MessageRow
    {
        e.Property(x => x.Topic).HasColumnName("topic");
        e.Property(x => x.MessageQualityOfService).HasColumnName("message_qos");
        e.Property(x => x.MessageRetain).HasColumnName("message_retain");
        e.Property(x => x.Properties).HasColumnName("properties");
        e.Property(x => x.Payload).HasColumnName("payload");
    }
}
