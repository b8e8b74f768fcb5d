namespace IoTHub.Mqtt;

/// <summary>
/// CONNACK. The outcome is always a <see cref="Mqtt.ReasonCode"/>; for 3.1 and 3.1.1 the codec maps it
/// to and from the return code on the wire (<see cref="ConnectReturnCodes"/>).
/// </summary>
public sealed class ConnAckPacket : ControlPacket
{
    public override PacketType Type => PacketType.ConnAck;

    public bool SessionPresent { get; set; }

    public ReasonCode ReasonCode { get; set; }

    public MqttProperties? Properties { get; set; }
}

/// <summary>Maps between 3.1.1 CONNACK return codes and MQTT 5.0 reason codes.</summary>
public static class ConnectReturnCodes
{
    public static ReasonCode ToReasonCode(ConnectReturnCode code) => code switch
    {
        ConnectReturnCode.Accepted => ReasonCode.Success,
        ConnectReturnCode.UnacceptableProtocolVersion => ReasonCode.UnsupportedProtocolVersion,
        ConnectReturnCode.IdentifierRejected => ReasonCode.ClientIdentifierNotValid,
        ConnectReturnCode.ServerUnavailable => ReasonCode.ServerUnavailable,
        ConnectReturnCode.BadUserNameOrPassword => ReasonCode.BadUserNameOrPassword,
        _ => ReasonCode.NotAuthorized,
    };

    /// <summary>
    /// The nearest 3.1.1 return code. 3.1.1 has no codes for most 5.0 refusals: credential problems
    /// become 0x04, permission problems 0x05, and every other refusal 0x03 (Server unavailable).
    /// </summary>
    public static ConnectReturnCode FromReasonCode(ReasonCode code) => code switch
    {
        ReasonCode.Success => ConnectReturnCode.Accepted,
        ReasonCode.UnsupportedProtocolVersion => ConnectReturnCode.UnacceptableProtocolVersion,
        ReasonCode.ClientIdentifierNotValid => ConnectReturnCode.IdentifierRejected,
        ReasonCode.BadUserNameOrPassword or ReasonCode.BadAuthenticationMethod => ConnectReturnCode.BadUserNameOrPassword,
        ReasonCode.NotAuthorized or ReasonCode.Banned => ConnectReturnCode.NotAuthorized,
        _ => ConnectReturnCode.ServerUnavailable,
    };
}
