using IoTHub.Broker.Messages;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Wills;

/// <summary>
/// A client's will as CONNECT carried it. It becomes a message only when published, so that its
/// Message Expiry Interval counts from the publication (5.0 §3.1.3.2.3).
/// </summary>
internal sealed class Will
{
    private readonly WillMessage? _will;
    private readonly string _clientId;
    private MqttMessage? _message;

    public Will(WillMessage will, string clientId)
    {
        _will = will;
        _clientId = clientId;
        Delay = will.Properties?.WillDelayInterval ?? 0;
    }

    /// <summary>A delayed will read back from storage.</summary>
    public Will(MqttMessage stored, string clientId, uint delay)
    {
        _message = stored;
        _clientId = clientId;
        Delay = delay;
    }

    /// <summary>The Will Delay Interval in seconds (5.0 §3.1.3.2.2); 0 in 3.1.1.</summary>
    public uint Delay { get; }

    public MqttMessage ToMessage(TimeProvider time)
    {
        if (_message is null)
        {
            // The delay belongs to the will, not to the message.
            _will!.Properties?.WillDelayInterval = null;
            _message = MqttMessage.Create(_will.Topic, _will.Payload, _will.QualityOfService, _will.Retain, _will.Properties, _clientId, time);
        }

        return _message;
    }
}
