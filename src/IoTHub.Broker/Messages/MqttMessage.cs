using System.Buffers;
using System.Diagnostics;
using System.Text;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Messages;

/// <summary>
/// An application message once it must outlive the read buffer: copied once, immutable, and the
/// same object goes to every subscriber. Topic, forwarded properties and payload share one array.
/// </summary>
public sealed class MqttMessage
{
    // Topic Alias, Subscription Identifier and Message Expiry Interval are written afresh for each
    // delivery (MQTT 5.0 §3.3.2.3.3, §3.3.2.3.4, §3.3.4); every other property is forwarded untouched.
    private static readonly ulong PerDeliveryProperties = PropertyBlock.Mask(PropertyId.TopicAlias)
        | PropertyBlock.Mask(PropertyId.SubscriptionIdentifier) | PropertyBlock.Mask(PropertyId.MessageExpiryInterval);

    private readonly byte[] _buffer;
    private readonly int _topicLength;
    private readonly int _propertiesLength;

    private MqttMessage(string topic, byte[] buffer, int topicLength, int propertiesLength, QualityOfService qos, bool retain, string? publisherId, long expiresAt,
        long receivedAt = 0)
    {
        Topic = topic;
        _buffer = buffer;
        _topicLength = topicLength;
        _propertiesLength = propertiesLength;
        QualityOfService = qos;
        Retain = retain;
        PublisherId = publisherId;
        ExpiresAt = expiresAt;
        ReceivedAt = receivedAt;
    }

    public string Topic { get; }

    public ReadOnlyMemory<byte> TopicBytes => _buffer.AsMemory(0, _topicLength);

    /// <summary>MQTT 5.0 properties forwarded to subscribers, without length prefix (per-delivery ones removed).</summary>
    public ReadOnlyMemory<byte> Properties => _buffer.AsMemory(_topicLength, _propertiesLength);

    public ReadOnlyMemory<byte> Payload => _buffer.AsMemory(_topicLength + _propertiesLength);

    /// <summary>The QoS the message was published with.</summary>
    public QualityOfService QualityOfService { get; }

    /// <summary>The RETAIN flag it was published with.</summary>
    public bool Retain { get; }

    /// <summary>The client id of the publisher; null for messages the server made itself.</summary>
    public string? PublisherId { get; }

    /// <summary>When the message expires, as a <see cref="TimeProvider"/> timestamp; 0 when it never does.</summary>
    public long ExpiresAt { get; }

    /// <summary>
    /// When the broker decoded the client's PUBLISH, as a <see cref="Stopwatch"/> timestamp (real time, whatever the
    /// broker's <see cref="TimeProvider"/>), for the delivery latency; 0 for messages the server made or read from storage.
    /// </summary>
    public long ReceivedAt { get; }

    /// <summary>The bytes this message holds, for queue limits.</summary>
    public int Size => _buffer.Length;

    public bool IsExpired(long now) => ExpiresAt != 0 && now >= ExpiresAt;

    /// <summary>Whole seconds left, rounded up, for the Message Expiry Interval of a delivery [MQTT-3.3.2-6].</summary>
    public uint RemainingSeconds(long now, long frequency) =>
        (uint)Math.Clamp((ExpiresAt - now + frequency - 1) / frequency, 0, uint.MaxValue);

    /// <summary>Copies a decoded PUBLISH whose topic is <paramref name="topic"/> (already resolved from an alias).</summary>
    public static MqttMessage FromPublish(in PublishPacket publish, string topic, string? publisherId, TimeProvider time)
    {
        // The topic's bytes are copied as they came; only a topic that arrived as an alias is encoded again.
        var topicLength = publish.Topic.IsEmpty ? Encoding.UTF8.GetByteCount(topic) : (int)publish.Topic.Length;
        var properties = publish.Properties;
        var propertiesLength = properties.IsEmpty ? 0 : PropertyBlock.MeasureWithout(properties, PerDeliveryProperties);
        var buffer = new byte[topicLength + propertiesLength + publish.Payload.Length];
        if (publish.Topic.IsEmpty)
        {
            Encoding.UTF8.GetBytes(topic, buffer);
        }
        else
        {
            publish.Topic.CopyTo(buffer);
        }

        if (propertiesLength > 0)
        {
            PropertyBlock.CopyWithout(properties, PerDeliveryProperties, buffer.AsSpan(topicLength));
        }

        publish.Payload.CopyTo(buffer.AsSpan(topicLength + propertiesLength));
        return new MqttMessage(topic, buffer, topicLength, propertiesLength, publish.QualityOfService, publish.Retain, publisherId,
            ExpiryOf(publish.Summary.MessageExpiryInterval, time), Stopwatch.GetTimestamp());
    }

    /// <summary>A message made by the server, the admin API, or from a client's will; its expiry starts now.</summary>
    public static MqttMessage Create(string topic, ReadOnlySpan<byte> payload, QualityOfService qos, bool retain, MqttProperties? properties = null,
        string? publisherId = null, TimeProvider? time = null)
    {
        var block = properties is null ? [] : properties.ToBytes();
        var propertiesLength = block.Length == 0 ? 0 : PropertyBlock.MeasureWithout(new ReadOnlySequence<byte>(block), PerDeliveryProperties);
        var topicLength = Encoding.UTF8.GetByteCount(topic);
        var buffer = new byte[topicLength + propertiesLength + payload.Length];
        Encoding.UTF8.GetBytes(topic, buffer);
        if (propertiesLength > 0)
        {
            PropertyBlock.CopyWithout(new ReadOnlySequence<byte>(block), PerDeliveryProperties, buffer.AsSpan(topicLength));
        }

        payload.CopyTo(buffer.AsSpan(topicLength + propertiesLength));
        return new MqttMessage(topic, buffer, topicLength, propertiesLength, qos, retain, publisherId,
            ExpiryOf(properties?.MessageExpiryInterval, time ?? TimeProvider.System));
    }

    /// <summary>
    /// A message read back from storage: <paramref name="properties"/> is the forwarded block as
    /// <see cref="Properties"/> gave it. Expiry is not stored yet (it comes with the storage integration).
    /// </summary>
    public static MqttMessage Restore(string topic, ReadOnlySpan<byte> payload, QualityOfService qos, bool retain, ReadOnlySpan<byte> properties,
        string? publisherId = null)
    {
        var topicLength = Encoding.UTF8.GetByteCount(topic);
        var buffer = new byte[topicLength + properties.Length + payload.Length];
        Encoding.UTF8.GetBytes(topic, buffer);
        properties.CopyTo(buffer.AsSpan(topicLength));
        payload.CopyTo(buffer.AsSpan(topicLength + properties.Length));
        return new MqttMessage(topic, buffer, topicLength, properties.Length, qos, retain, publisherId, expiresAt: 0);
    }

    private static long ExpiryOf(uint? seconds, TimeProvider time) =>
        seconds is { } s ? time.GetTimestamp() + (s * time.TimestampFrequency) : 0;
}
