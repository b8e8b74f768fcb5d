namespace IoTHub.Broker.Security;

/// <summary>Accepts every CONNECT: the broker's authenticator until one is configured (the host binds to loopback then).</summary>
public sealed class AnyClient : IConnectAuthenticator
{
    public static readonly AnyClient Instance = new();

    private AnyClient()
    {
    }

    public ValueTask<ConnectDecision> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken) => ValueTask.FromResult(ConnectDecision.Accept);
}
