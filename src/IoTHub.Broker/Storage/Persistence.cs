namespace IoTHub.Broker.Storage;

/// <summary>
/// The engine's side of storage: every change that must survive a restart goes through
/// <see cref="Write"/> to the group-commit writer. Without a writer (an in-memory broker) it does
/// nothing. The commit of the last write made by the current thread is kept, so that the packet
/// being handled (a PUBLISH, a QoS 2 PUBLISH) can be acknowledged only once it is stored.
/// </summary>
internal sealed class Persistence(StorageWriter? writer)
{
    public static readonly Persistence None = new(null);

    [ThreadStatic]
    private static Task? t_lastCommit;

    public bool Enabled => writer is not null;

    public void Write(in StorageOperation operation)
    {
        if (writer is null)
        {
            return;
        }

        var commit = writer.WriteAsync(operation);
        if (!commit.IsCompleted)
        {
            // Strict mode: the batch's task. Batches commit in order, so the last one covers the earlier ones.
            t_lastCommit = commit.AsTask();
        }
    }

    /// <summary>Starts collecting the commit the packet being handled must wait for.</summary>
    public static void BeginPacket() => t_lastCommit = null;

    /// <summary>The commit the packet being handled must wait for; null when nothing is pending.</summary>
    public static Task? EndPacket()
    {
        var commit = t_lastCommit;
        t_lastCommit = null;
        return commit is { IsCompleted: false } ? commit : null;
    }
}
