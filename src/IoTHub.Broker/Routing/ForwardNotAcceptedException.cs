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

    private ForwardNotAcceptedException(string message, bool wentNowhere)
        : base(message)
    {
        WentNowhere = wentNowhere;
    }

    /// <summary>
    /// The message reached no session and no node: every node it was for refused it at once (a dead node whose sessions are not adopted
    /// yet) and no session here matched it. A QoS 2 resend may then be routed afresh: nothing can get it twice.
    /// </summary>
    public bool WentNowhere { get; }

    /// <summary>
    /// The refusal <paramref name="refused"/> (faulted now or later) of a message queued for no node and no session: when it faults, it
    /// faults as one that went nowhere (<see cref="WentNowhere"/>).
    /// </summary>
    public static Task Nowhere(Task refused)
    {
        ArgumentNullException.ThrowIfNull(refused);
        return refused.IsFaulted ? Task.FromException(WentNowhereFor(refused)) : NowhereWhenRefusedAsync(refused);
    }

    private static async Task NowhereWhenRefusedAsync(Task refused)
    {
        await refused.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (refused.IsFaulted)
        {
            throw WentNowhereFor(refused);
        }
    }

    private static ForwardNotAcceptedException WentNowhereFor(Task refused) =>
        new(refused.Exception?.InnerException?.Message ?? "not accepted", wentNowhere: true);
}
