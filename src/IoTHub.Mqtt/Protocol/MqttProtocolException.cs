using System.Diagnostics.CodeAnalysis;

namespace IoTHub.Mqtt;

/// <summary>
/// The one exception type for protocol violations. It carries the MQTT 5.0 reason code that names the
/// violation; for 3.1.1 connections the code only explains why the connection is closed.
/// </summary>
public sealed class MqttProtocolException : Exception
{
    public MqttProtocolException(ReasonCode reasonCode, string message)
        : base(message)
    {
        ReasonCode = reasonCode;
    }

    public MqttProtocolException()
        : this(ReasonCode.ProtocolError, "protocol error")
    {
    }

    public MqttProtocolException(string message)
        : this(ReasonCode.ProtocolError, message)
    {
    }

    public MqttProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
        ReasonCode = ReasonCode.ProtocolError;
    }

    public ReasonCode ReasonCode { get; }

    [DoesNotReturn]
    public static void Throw(ReasonCode reasonCode, string message) => throw new MqttProtocolException(reasonCode, message);

    [DoesNotReturn]
    public static void Malformed(string message) => throw new MqttProtocolException(ReasonCode.MalformedPacket, message);

    [DoesNotReturn]
    public static void ProtocolError(string message) => throw new MqttProtocolException(ReasonCode.ProtocolError, message);
}
