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
}
