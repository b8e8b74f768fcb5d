namespace IoTHub.Mqtt;

/// <summary>The outcome of one decode attempt.</summary>
public enum DecodeStatus : byte
{
    /// <summary>The buffer ends before the packet does; nothing was consumed.</summary>
    NeedMoreData,

    /// <summary>A packet was decoded and the buffer advanced past it.</summary>
    Packet,

    /// <summary>
    /// The bytes break a rule; <see cref="DecodeError"/> says which. The connection must be closed
    /// (after a DISCONNECT or CONNACK carrying the reason code in 5.0).
    /// </summary>
    Malformed,
}

/// <summary>Why a packet was refused: the MQTT 5.0 reason code and a fixed description.</summary>
public readonly record struct DecodeError(ReasonCode ReasonCode, string Message);
