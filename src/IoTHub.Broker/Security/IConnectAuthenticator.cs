namespace IoTHub.Broker.Security;

/// <summary>
/// Decides whether a CONNECT is accepted. The connection's read loop waits for the answer (within
/// <see cref="BrokerOptions.AuthenticationTimeout"/>); no other connection does. Answer with a completed
/// <see cref="ValueTask{TResult}"/> when the decision is at hand (a cache hit): the common case then costs nothing.
/// </summary>
public interface IConnectAuthenticator
{
    /// <param name="request">What the client presented and how it came in.</param>
    /// <param name="cancellationToken">Cancelled when the broker stops.</param>
    ValueTask<ConnectDecision> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken);
}
