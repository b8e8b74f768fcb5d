namespace IoTHub.Mqtt;

/// <summary>Which reason codes each packet may carry, per the tables of MQTT 5.0 §3 and 3.1.1 §3.</summary>
public static class ReasonCodeRules
{
    /// <summary>True when <paramref name="code"/> is a reason code the packet type may carry in <paramref name="version"/>.</summary>
    public static bool IsAllowed(PacketType type, byte code, MqttProtocolVersion version)
    {
        if (version != MqttProtocolVersion.V500)
        {
            return type switch
            {
                PacketType.ConnAck => code <= (byte)ConnectReturnCode.NotAuthorized,
                PacketType.SubAck => code is 0x00 or 0x01 or 0x02 or 0x80,
                _ => false,
            };
        }

        return type switch
        {
            PacketType.ConnAck => code is 0x00 or 0x80 or 0x81 or 0x82 or 0x83 or 0x84 or 0x85 or 0x86 or 0x87
                or 0x88 or 0x89 or 0x8A or 0x8C or 0x90 or 0x95 or 0x97 or 0x99 or 0x9A or 0x9B or 0x9C or 0x9D or 0x9F,
            PacketType.PubAck or PacketType.PubRec => code is 0x00 or 0x10 or 0x80 or 0x83 or 0x87 or 0x90 or 0x91
                or 0x97 or 0x99,
            PacketType.PubRel or PacketType.PubComp => code is 0x00 or 0x92,
            PacketType.SubAck => code is 0x00 or 0x01 or 0x02 or 0x80 or 0x83 or 0x87 or 0x8F or 0x91 or 0x97
                or 0x9E or 0xA1 or 0xA2,
            PacketType.UnsubAck => code is 0x00 or 0x11 or 0x80 or 0x83 or 0x87 or 0x8F or 0x91,
            PacketType.Disconnect => code is 0x00 or 0x04 or 0x80 or 0x81 or 0x82 or 0x83 or 0x87 or 0x89 or 0x8B
                or 0x8D or 0x8E or 0x8F or 0x90 or 0x93 or 0x94 or 0x95 or 0x96 or 0x97 or 0x98 or 0x99 or 0x9A
                or 0x9B or 0x9C or 0x9D or 0x9E or 0x9F or 0xA0 or 0xA1 or 0xA2,
            PacketType.Auth => code is 0x00 or 0x18 or 0x19,
            _ => false,
        };
    }
}
