namespace IoTHub.Broker.Security;

/// <summary>Accepts every CONNECT without an Authentication Method (0x8C for one): the engine's default for a broker made without an authenticator (the host always sets its <see cref="AuthenticationChain"/>).</summary>
public sealed class AnyClient : IConnectAuthenticator
{
    public static readonly AnyClient Instance = new();

    private AnyClient()
    {
    }

    public ValueTask<ConnectDecision> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(request.Authentication is null ? ConnectDecision.Accept : ConnectDecision.BadMethod);
}
