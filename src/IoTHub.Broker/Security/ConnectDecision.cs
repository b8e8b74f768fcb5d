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

    public static ConnectDecision Accept => default;

    public static ConnectDecision AcceptedBy(string method) => new(ReasonCode.Success, null) { Method = method };

    public static ConnectDecision Refuse(ReasonCode reasonCode, string reason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan((int)reasonCode, (int)ReasonCode.UnspecifiedError);
        return new ConnectDecision(reasonCode, reason);
    }
}
