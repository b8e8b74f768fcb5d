namespace IoTHub.Broker.Storage;

/// <summary>
/// The engine's side of storage: every change that must survive a restart goes through
/// <see cref="Write"/> to the group-commit writer. Without a writer (an in-memory broker) it does
/// nothing. The commits of the writes made by the current thread are kept, so that the packet
/// being handled (a PUBLISH, a QoS 2 PUBLISH) can be acknowledged only once all of it is stored;
/// in a cluster also once the other nodes it was forwarded to accepted it (<see cref="WaitFor"/>).
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

    // Whether this thread wrote anything since BeginGroup: a forwarded batch's receipt goes only into a commit that stores some of it.
    [ThreadStatic]
    private static bool t_wroteInGroup;

    // What the other nodes of a cluster must accept before the packet's acknowledgement (IRemoteRoutes.Forward).
    [ThreadStatic]
    private static Task? t_accepted;

    // The last two tasks combined for an acknowledgement and their combination: the packets of one read mostly wait for the
    // same storage batch and the same forward batch, so they share one task instead of allocating one each.
    [ThreadStatic]
    private static (Task First, Task Second, Task Both)? t_lastBoth;

    public bool Enabled => writer is not null;

    /// <summary>Completes when everything written before the call is committed (see <see cref="StorageWriter.FlushAsync"/>).</summary>
    public Task FlushAsync() => writer?.FlushAsync() ?? Task.CompletedTask;

    /// <summary>
    /// Until <see cref="EndGroup"/> on this thread (no await between), what is written goes into one commit with what follows
    /// (<see cref="StorageWriter.BeginGroup"/>): a forwarded batch and its receipt (docs/clustering.md#forward-receipts).
    /// </summary>
    public void BeginGroup()
    {
        t_wroteInGroup = false;
        writer?.BeginGroup();
    }

    /// <summary>
    /// Ends what <see cref="BeginGroup"/> began, writing <paramref name="receipt"/> into the group first when this thread wrote
    /// something since: a batch that stored nothing here (its sessions here are not persistent) needs no receipt and waits for no commit.
    /// </summary>
    public void EndGroup(in StorageOperation? receipt)
    {
        try
        {
            if (receipt is { } written && t_wroteInGroup)
            {
                Write(written);
            }
        }
        finally
        {
            writer?.EndGroup();
        }
    }

    public void Write(in StorageOperation operation)
    {
        if (writer is null)
        {
            return;
        }

        t_wroteInGroup = true;

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

    /// <summary>
    /// Writes <paramref name="operation"/> and returns its batch's commit when there is one to wait for (strict durability
    /// over a store that outlives the broker, not committed yet); null otherwise. Unlike
    /// <see cref="Write"/> it does not add to the packet being handled: what waits for it is the caller's (a QoS 2 PUBLISH
    /// held by the write loop until its packet id is stored).
    /// </summary>
    public Task? WriteAwaited(in StorageOperation operation)
    {
        if (writer is not { HoldsQos2Deliveries: true })
        {
            // Relaxed durability, or a memory store of the broker's own: today's write, nothing waits for it.
            Write(operation);
            return null;
        }

        var commit = writer.WriteAsync(operation);
        return commit.IsCompletedSuccessfully ? null : commit.AsTask();
    }

    /// <summary>Makes the packet being handled wait for <paramref name="accepted"/> too: the other nodes of a cluster taking it.</summary>
    public static void WaitFor(Task accepted) => t_accepted = t_accepted is { } other ? Both(other, accepted) : accepted;

    /// <summary>Starts collecting the commits the packet being handled must wait for.</summary>
    public static void BeginPacket()
    {
        t_lastCommit = null;
        t_earlierCommit = null;
        t_accepted = null;
    }

    /// <summary>What the packet being handled must wait for: all of its commits, and the other nodes' acceptance; null when all succeeded.</summary>
    public static Task? EndPacket()
    {
        var commit = t_lastCommit;
        var earlier = t_earlierCommit;
        var accepted = t_accepted is { IsCompletedSuccessfully: false } pending ? pending : null;
        BeginPacket();
        if (earlier is { IsCompletedSuccessfully: false })
        {
            commit = earlier.IsFaulted ? earlier : Both(earlier, commit!);
        }
        else if (commit is { IsCompletedSuccessfully: true })
        {
            commit = null;
        }

        return commit is null ? accepted : accepted is null ? commit : Both(commit, accepted);
    }

    /// <summary>Completes when both have, reusing the last combination when it was of the same two.</summary>
    private static Task Both(Task first, Task second)
    {
        if (ReferenceEquals(first, second))
        {
            return first;
        }

        if (t_lastBoth is { } last && ReferenceEquals(last.First, first) && ReferenceEquals(last.Second, second))
        {
            return last.Both;
        }

        var both = Task.WhenAll(first, second);
        t_lastBoth = (first, second, both);
        return both;
    }
}
