namespace IoTHub.Broker.Security;

/// <summary>
/// One MQTT 5.0 enhanced authentication (§4.12): CONNECT's, or a re-authentication's (AUTH 0x19), with the data of the
/// step at hand. The <see cref="IEnhancedAuthenticator"/> keeps what it needs between steps in <see cref="State"/>.
/// </summary>
/// <param name="Method">The Authentication Method; every AUTH of the exchange must name it [MQTT-4.12.0-5].</param>
/// <param name="Reauthentication">True for an exchange a connected client started with AUTH 0x19 [MQTT-4.12.1-1].</param>
public sealed class AuthenticationExchange(string method, bool reauthentication)
{
    public string Method { get; } = method;

    public bool Reauthentication { get; } = reauthentication;

    /// <summary>The Authentication Data of this step (CONNECT's, then each AUTH's); null when the packet had none.</summary>
    public byte[]? Data { get; set; }

    /// <summary>The user the exchange logs in, once the authenticator read it (bans count failures by it).</summary>
    public string? UserName { get; set; }

    /// <summary>The authenticator's own state between steps.</summary>
    public object? State { get; set; }
}

/// <summary>
/// An enhanced authentication method of the <see cref="AuthenticationChain"/> (SCRAM). Each step answers with
/// <see cref="ConnectDecision.Continue"/> (the broker sends AUTH 0x18 with its data), an accepting decision (with the
/// last data for CONNACK or AUTH 0x00), or a refusal.
/// </summary>
public interface IEnhancedAuthenticator
{
    /// <summary>The <c>method</c> label of <c>iothub_authentication_total</c>, e.g. <c>scram</c>.</summary>
    string Method { get; }

    /// <summary>The Authentication Methods it takes, e.g. <c>SCRAM-SHA-256</c>.</summary>
    IReadOnlyList<string> AuthenticationMethods { get; }

    ValueTask<ConnectDecision> StepAsync(ConnectRequest request, AuthenticationExchange exchange, CancellationToken cancellationToken);
}
