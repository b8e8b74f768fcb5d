namespace IoTHub.Broker.Storage;

/// <summary>
/// The engine's side of storage: every change that must survive a restart goes through
/// <see cref="Write"/> to the group-commit writer. Without a writer (an in-memory broker) it does
/// nothing. The commits of the writes made by the current thread are kept, so that the packet
/// being handled (a PUBLISH, a QoS 2 PUBLISH) can be acknowledged only once all of it is stored.
/// </summary>
internal sealed class Persistence(StorageWriter? writer)
{
    public static readonly Persistence None = new(null);

    // The batch of the packet's last write, and an earlier batch of it that did not commit (yet) when the
    // writer took a batch between two of its writes. A later batch says nothing of an earlier one: that
    // one may have failed (a full disk) while the later, smaller one committed. The writer commits one
    // batch at a time, so of the batches before the last one only the one before it can still be pending.
    [ThreadStatic]
    private static Task? t_lastCommit;

    [ThreadStatic]
    private static Task? t_earlierCommit;

    public bool Enabled => writer is not null;

    /// <summary>Completes when everything written before the call is committed (see <see cref="StorageWriter.FlushAsync"/>).</summary>
    public Task FlushAsync() => writer?.FlushAsync() ?? Task.CompletedTask;

    public void Write(in StorageOperation operation)
    {
        if (writer is null)
        {
            return;
        }

        var commit = writer.WriteAsync(operation);
        if (commit.IsCompletedSuccessfully)
        {
            // Relaxed mode: nothing to wait for.
            return;
        }

        // Strict mode: the batch's task, kept even when it already failed.
        var batch = commit.AsTask();
        if (t_lastCommit is { } last && !ReferenceEquals(last, batch) && t_earlierCommit is not { IsFaulted: true } && !last.IsCompletedSuccessfully)
        {
            // A failed earlier batch already holds the acknowledgement back; otherwise the last one now may.
            t_earlierCommit = last;
        }

        t_lastCommit = batch;
    }

    /// <summary>Starts collecting the commits the packet being handled must wait for.</summary>
    public static void BeginPacket()
    {
        t_lastCommit = null;
        t_earlierCommit = null;
    }

    /// <summary>What the packet being handled must wait for: all of its commits; null when they all succeeded.</summary>
    public static Task? EndPacket()
    {
        var commit = t_lastCommit;
        var earlier = t_earlierCommit;
        BeginPacket();
        if (earlier is { IsCompletedSuccessfully: false })
        {
            return earlier.IsFaulted ? earlier : Task.WhenAll(earlier, commit!);
        }

        return commit is { IsCompletedSuccessfully: false } ? commit : null;
    }
}
