using IoTHub.Mqtt;

namespace IoTHub.Broker.Security;

/// <summary>
/// An authenticator's answer: accepted, or refused with an MQTT 5.0 reason code (mapped to a 3.1.1 return code for
/// older clients: 0x86 to 0x04, 0x87 to 0x05) and why, for the log and the 5.0 Reason String.
/// </summary>
public readonly record struct ConnectDecision(ReasonCode ReasonCode, string? Reason)
{
    public bool Accepted => ReasonCode == ReasonCode.Success;

    /// <summary>
    /// Of an accepted client: the <see cref="IAuthenticator.Method"/> that checked its user name and password; null when
    /// none did (anonymous, or no authenticator). The connection keeps it, so that changes to that user reach it.
    /// </summary>
    public string? Method { get; init; }

    /// <summary>Of an accepted client: what its authenticator granted beyond its user name (roles, superuser); null: nothing.</summary>
    public ClientRights? Rights { get; init; }

    /// <summary>Of an enhanced authentication: the Authentication Data of the next AUTH 0x18, or of the accepting CONNACK or AUTH 0x00.</summary>
    public byte[]? AuthenticationData { get; init; }

    /// <summary>Of an accepting enhanced authentication: the user it logged in (null: CONNECT's user name).</summary>
    public string? UserName { get; init; }

    /// <summary>An enhanced authentication goes on: the broker sends AUTH 0x18 Continue authentication [MQTT-4.12.0-2].</summary>
    public bool Continues => ReasonCode == ReasonCode.ContinueAuthentication;

    public static ConnectDecision Accept => default;

    /// <summary>An Authentication Method no authenticator takes: 0x8C [MQTT-4.12.0-1].</summary>
    public static ConnectDecision BadMethod { get; } = Refuse(ReasonCode.BadAuthenticationMethod, "this authentication method is not supported");

    public static ConnectDecision Continue(byte[] data) => new(ReasonCode.ContinueAuthentication, null) { AuthenticationData = data };

    public static ConnectDecision AcceptedBy(string method) => new(ReasonCode.Success, null) { Method = method };

    public static ConnectDecision Refuse(ReasonCode reasonCode, string reason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan((int)reasonCode, (int)ReasonCode.UnspecifiedError);
        return new ConnectDecision(reasonCode, reason);
    }
}
