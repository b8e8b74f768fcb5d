using System.Buffers;
using System.Text;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Messages;

/// <summary>
/// An application message once it must outlive the read buffer: copied once, immutable, and the
/// same object goes to every subscriber. Topic, forwarded properties and payload share one array.
/// </summary>
public sealed class MqttMessage
{
    // Topic Alias and Subscription Identifier belong to one network hop, never to the message (MQTT 5.0 §3.3.2.3.4, §3.3.4).
    private static readonly ulong HopProperties = PropertyBlock.Mask(PropertyId.TopicAlias) | PropertyBlock.Mask(PropertyId.SubscriptionIdentifier);

    private readonly byte[] _buffer;
    private readonly int _topicLength;
    private readonly int _propertiesLength;

    private MqttMessage(string topic, byte[] buffer, int topicLength, int propertiesLength, QualityOfService qos, bool retain, string? publisherId)
    {
        Topic = topic;
        _buffer = buffer;
        _topicLength = topicLength;
        _propertiesLength = propertiesLength;
        QualityOfService = qos;
        Retain = retain;
        PublisherId = publisherId;
    }

    public string Topic { get; }

    public ReadOnlyMemory<byte> TopicBytes => _buffer.AsMemory(0, _topicLength);

    /// <summary>MQTT 5.0 properties forwarded to subscribers (Topic Alias removed), without length prefix.</summary>
    public ReadOnlyMemory<byte> Properties => _buffer.AsMemory(_topicLength, _propertiesLength);

    public ReadOnlyMemory<byte> Payload => _buffer.AsMemory(_topicLength + _propertiesLength);

    /// <summary>The QoS the message was published with.</summary>
    public QualityOfService QualityOfService { get; }

    /// <summary>The RETAIN flag it was published with.</summary>
    public bool Retain { get; }

    /// <summary>The client id of the publisher; null for messages the server made itself.</summary>
    public string? PublisherId { get; }

    /// <summary>The bytes this message holds, for queue limits.</summary>
    public int Size => _buffer.Length;

    /// <summary>Copies a decoded PUBLISH whose topic is <paramref name="topic"/> (already resolved from an alias).</summary>
    public static MqttMessage FromPublish(in PublishPacket publish, string topic, string? publisherId)
    {
        var topicLength = Encoding.UTF8.GetByteCount(topic);
        var properties = publish.Properties;
        var propertiesLength = properties.IsEmpty ? 0 : PropertyBlock.MeasureWithout(properties, HopProperties);
        var buffer = new byte[topicLength + propertiesLength + publish.Payload.Length];
        Encoding.UTF8.GetBytes(topic, buffer);
        if (propertiesLength > 0)
        {
            PropertyBlock.CopyWithout(properties, HopProperties, buffer.AsSpan(topicLength));
        }

        publish.Payload.CopyTo(buffer.AsSpan(topicLength + propertiesLength));
        return new MqttMessage(topic, buffer, topicLength, propertiesLength, publish.QualityOfService, publish.Retain, publisherId);
    }

    /// <summary>A message made by the server, the admin API, or from a client's will.</summary>
    public static MqttMessage Create(string topic, ReadOnlySpan<byte> payload, QualityOfService qos, bool retain, ReadOnlySpan<byte> properties = default,
        string? publisherId = null)
    {
        var topicLength = Encoding.UTF8.GetByteCount(topic);
        var buffer = new byte[topicLength + properties.Length + payload.Length];
        Encoding.UTF8.GetBytes(topic, buffer);
        properties.CopyTo(buffer.AsSpan(topicLength));
        payload.CopyTo(buffer.AsSpan(topicLength + properties.Length));
        return new MqttMessage(topic, buffer, topicLength, properties.Length, qos, retain, publisherId);
    }
}
