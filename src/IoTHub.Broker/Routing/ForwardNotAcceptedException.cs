namespace IoTHub.Broker.Routing;

/// <summary>
/// Another node of the cluster did not accept a forwarded QoS 1 or 2 message (the call failed or timed out, the node died, its
/// queue here was full, or Cluster:Routing:ForwardAckTimeout passed): the publisher's PUBACK/PUBREC is withheld and its
/// connection closed, so that it sends the message again (docs/clustering.md#acknowledged-forwarding).
/// </summary>
public sealed class ForwardNotAcceptedException : Exception
{
    public ForwardNotAcceptedException()
    {
    }

    public ForwardNotAcceptedException(string message)
        : base(message)
    {
    }

    public ForwardNotAcceptedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <param name="notTaken">
    /// Whether no session on the nodes it is about can have the message: refused before it was queued (a dead node's routes, a moving
    /// session's, a full queue), or queued and certainly never sent (<see cref="NotTaken"/>).
    /// </param>
    public ForwardNotAcceptedException(string message, bool notTaken)
        : base(message)
    {
        NotTaken = notTaken;
    }

    private ForwardNotAcceptedException(string message, bool notTaken, bool wentNowhere)
        : base(message)
    {
        NotTaken = notTaken;
        WentNowhere = wentNowhere;
    }

    /// <summary>
    /// No session on the nodes this is about got the message: refused before it was queued for them, queued but never sent (the node
    /// was declared dead first), or in a call the dead node never committed (its receipt says so, docs/clustering.md#forward-receipts).
    /// False when a call that carried it failed and nothing tells more: the node may have taken it.
    /// </summary>
    public bool NotTaken { get; }

    /// <summary>
    /// The message reached no session and no node: every node it was for did not take it (<see cref="NotTaken"/>) and no session here
    /// matched it. A QoS 2 resend may then be routed afresh: nothing can get it twice.
    /// </summary>
    public bool WentNowhere { get; }

    /// <summary>
    /// What the acknowledgement of a message that no session here got waits for: the other nodes' acceptance <paramref name="accepted"/>,
    /// except that a failure as <see cref="NotTaken"/> becomes one that went nowhere (<see cref="WentNowhere"/>). The last result is
    /// reused on the thread while the acceptance is the same (one per batch of a node).
    /// </summary>
    public static Task Nowhere(Task accepted)
    {
        ArgumentNullException.ThrowIfNull(accepted);
        if (accepted.IsCompletedSuccessfully)
        {
            return accepted;
        }

        if (t_last is { } last && ReferenceEquals(last.Accepted, accepted))
        {
            return last.Nowhere;
        }

        var nowhere = accepted.IsFaulted ? (NotTakenIn(accepted) is { } notTaken ? Task.FromException(WentNowhereFor(notTaken)) : accepted) : NowhereWhenNotTakenAsync(accepted);
        t_last = (accepted, nowhere);
        return nowhere;
    }

    [ThreadStatic]
    private static (Task Accepted, Task Nowhere)? t_last;

    private static async Task NowhereWhenNotTakenAsync(Task accepted)
    {
        await accepted.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (NotTakenIn(accepted) is { } notTaken)
        {
            throw WentNowhereFor(notTaken);
        }

        await accepted.ConfigureAwait(false);
    }

    /// <summary>The failure of <paramref name="accepted"/> when it is one of a message no node took; null otherwise.</summary>
    private static ForwardNotAcceptedException? NotTakenIn(Task accepted) =>
        accepted.Exception?.InnerExceptions is [ForwardNotAcceptedException { NotTaken: true } notTaken] ? notTaken : null;

    private static ForwardNotAcceptedException WentNowhereFor(ForwardNotAcceptedException notTaken) => new(notTaken.Message, notTaken: true, wentNowhere: true);
}
