using IoTHub.Broker.Messages;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Wills;

/// <summary>
/// A client's will as CONNECT carried it. Its message gets its expiry only when published, so that its
/// Message Expiry Interval counts from the publication (5.0 §3.1.3.2.3), also after a delay and a restart.
/// </summary>
internal sealed class Will
{
    private readonly WillMessage? _will;
    private readonly string _clientId;
    private MqttMessage? _unpublished;

    public Will(WillMessage will, string clientId)
    {
        _will = will;
        _clientId = clientId;
        Delay = will.Properties?.WillDelayInterval ?? 0;
        ExpiryInterval = will.Properties?.MessageExpiryInterval;
    }

    /// <summary>A delayed will read back from storage: <paramref name="unpublished"/> is what <see cref="Unpublished"/> gave.</summary>
    public Will(MqttMessage unpublished, string clientId, uint delay, uint? expiryInterval)
    {
        _unpublished = unpublished;
        _clientId = clientId;
        Delay = delay;
        ExpiryInterval = expiryInterval;
    }

    /// <summary>The topic the will is published to.</summary>
    public string Topic => _unpublished?.Topic ?? _will!.Topic;

    /// <summary>The QoS the will is published with.</summary>
    public QualityOfService QualityOfService => _unpublished?.QualityOfService ?? _will!.QualityOfService;

    /// <summary>Whether the will is published retained.</summary>
    public bool Retain => _unpublished?.Retain ?? _will!.Retain;

    /// <summary>The Will Delay Interval in seconds (5.0 §3.1.3.2.2); 0 in 3.1.1.</summary>
    public uint Delay { get; }

    /// <summary>The will's Message Expiry Interval in seconds (5.0 §3.1.3.2.3); null when it never expires.</summary>
    public uint? ExpiryInterval { get; }

    /// <summary>The will's message as stored while it waits: without an expiry, which starts at its publication.</summary>
    public MqttMessage Unpublished(TimeProvider time)
    {
        if (_unpublished is null)
        {
            // The delay belongs to the will, not to the message; the expiry is given at publication.
            _will!.Properties?.WillDelayInterval = null;
            _will.Properties?.MessageExpiryInterval = null;
            _unpublished = MqttMessage.Create(_will.Topic, _will.Payload, _will.QualityOfService, _will.Retain, _will.Properties, _clientId, time);
        }

        return _unpublished;
    }

    /// <summary>The message to publish now, its expiry counting from now.</summary>
    public MqttMessage ToMessage(TimeProvider time) =>
        ExpiryInterval is { } seconds ? Unpublished(time).ExpiringIn(seconds, time) : Unpublished(time);
}
