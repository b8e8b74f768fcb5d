using IoTHub.Broker.Messages;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Wills;

/// <summary>
/// A client's will as CONNECT carried it. It becomes a message only when published, so that its
/// Message Expiry Interval counts from the publication (5.0 §3.1.3.2.3).
/// </summary>
internal sealed class Will(WillMessage will, string clientId)
{
    /// <summary>The Will Delay Interval in seconds (5.0 §3.1.3.2.2); 0 in 3.1.1.</summary>
    public uint Delay { get; } = will.Properties?.WillDelayInterval ?? 0;

    public MqttMessage ToMessage(TimeProvider time)
    {
        // The delay belongs to the will, not to the message.
        will.Properties?.WillDelayInterval = null;
        return MqttMessage.Create(will.Topic, will.Payload, will.QualityOfService, will.Retain, will.Properties, clientId, time);
    }
}
