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

    // The same moment as ExpiresAt on the wall clock (UTC ticks, 0 when it never expires), for storage.
    private readonly long _expiresAtUtcTicks;

    // When it was kept as a topic's retained message (UTC ticks), 0 for a message that is not one; see KeptAsRetained.
    private readonly long _storedAtUtcTicks;

    private MqttMessage(string topic, byte[] buffer, int topicLength, int propertiesLength, QualityOfService qos, bool retain, string? publisherId,
        (long At, long AtUtcTicks) expiry, long receivedAt = 0, (string? UserName, long AtUtcTicks) stored = default)
    {
        Topic = topic;
        _buffer = buffer;
        _topicLength = topicLength;
        _propertiesLength = propertiesLength;
        QualityOfService = qos;
        Retain = retain;
        PublisherId = publisherId;
        ExpiresAt = expiry.At;
        _expiresAtUtcTicks = expiry.AtUtcTicks;
        ReceivedAt = receivedAt;
        PublisherUserName = stored.UserName;
        _storedAtUtcTicks = stored.AtUtcTicks;
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

    /// <summary>A retained message's: the user name its publisher logged in with; null when anonymous or made by the server.</summary>
    public string? PublisherUserName { get; }

    /// <summary>A retained message's: when the broker kept it (UTC); null for a message that is not kept as retained.</summary>
    public DateTimeOffset? StoredAt => _storedAtUtcTicks == 0 ? null : new DateTimeOffset(_storedAtUtcTicks, TimeSpan.Zero);

    /// <summary>When the message expires, as a <see cref="TimeProvider"/> timestamp; 0 when it never does.</summary>
    public long ExpiresAt { get; }

    /// <summary>
    /// When the message expires as a wall-clock UTC time, which is what storage keeps [MQTT-3.3.2-5]; null when it never does.
    /// A message read back from storage has only this until <see cref="OnClock"/> puts it on the broker's clock.
    /// </summary>
    public DateTimeOffset? ExpiresAtUtc => _expiresAtUtcTicks == 0 ? null : new DateTimeOffset(_expiresAtUtcTicks, TimeSpan.Zero);

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
    /// <see cref="Properties"/> gave it, <paramref name="expiresAtUtc"/> what <see cref="ExpiresAtUtc"/> gave (null: never expires).
    /// It does not expire on the broker's clock before <see cref="OnClock"/>. A retained message kept at <paramref name="storedAt"/>
    /// comes back as <see cref="KeptAsRetained"/> would give it, in one object (a start reads a million of them).
    /// </summary>
    public static MqttMessage Restore(string topic, ReadOnlySpan<byte> payload, QualityOfService qos, bool retain, ReadOnlySpan<byte> properties,
        DateTimeOffset? expiresAtUtc, string? publisherId = null, DateTimeOffset? storedAt = null, string? publisherUserName = null)
    {
        var topicLength = Encoding.UTF8.GetByteCount(topic);
        var buffer = new byte[topicLength + properties.Length + payload.Length];
        Encoding.UTF8.GetBytes(topic, buffer);
        properties.CopyTo(buffer.AsSpan(topicLength));
        payload.CopyTo(buffer.AsSpan(topicLength + properties.Length));
        return new MqttMessage(topic, buffer, topicLength, properties.Length, qos, retain, publisherId, (0, expiresAtUtc?.UtcTicks ?? 0),
            stored: (publisherUserName, storedAt?.UtcTicks ?? 0));
    }

    /// <summary>
    /// This message (sharing its bytes) as a topic's retained message, kept at <paramref name="storedAt"/> from a publisher that
    /// logged in as <paramref name="publisherUserName"/>; also what storage gives back (<paramref name="publisherId"/> replaces the
    /// publisher's client id then). One object per retained message kept: the message routed to subscribers stays as it was.
    /// </summary>
    public MqttMessage KeptAsRetained(DateTimeOffset storedAt, string? publisherUserName, string? publisherId) =>
        new(Topic, _buffer, _topicLength, _propertiesLength, QualityOfService, Retain, publisherId, (ExpiresAt, _expiresAtUtcTicks), ReceivedAt,
            (publisherUserName, storedAt.UtcTicks));

    /// <summary>
    /// This message (sharing its bytes) expiring at <see cref="ExpiresAtUtc"/> as a timestamp of <paramref name="time"/>, taken
    /// when the broker has read <paramref name="utcNow"/> and <paramref name="now"/>; itself when it never expires. An expiry
    /// that passed while the broker was down gives a timestamp at or before <paramref name="now"/>: already expired.
    /// </summary>
    public MqttMessage OnClock(TimeProvider time, long now, DateTimeOffset utcNow)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (_expiresAtUtcTicks == 0)
        {
            return this;
        }

        var left = _expiresAtUtcTicks - utcNow.UtcTicks;
        var expiresAt = Math.Max(1, now + (long)(left * (double)time.TimestampFrequency / TimeSpan.TicksPerSecond));
        return new MqttMessage(Topic, _buffer, _topicLength, _propertiesLength, QualityOfService, Retain, PublisherId, (expiresAt, _expiresAtUtcTicks),
            stored: (PublisherUserName, _storedAtUtcTicks));
    }

    /// <summary>This message (sharing its bytes) expiring <paramref name="seconds"/> from now: a will's at its publication.</summary>
    internal MqttMessage ExpiringIn(uint seconds, TimeProvider time) =>
        new(Topic, _buffer, _topicLength, _propertiesLength, QualityOfService, Retain, PublisherId, ExpiryOf(seconds, time),
            stored: (PublisherUserName, _storedAtUtcTicks));

    private static (long At, long AtUtcTicks) ExpiryOf(uint? seconds, TimeProvider time) =>
        seconds is { } s ? (time.GetTimestamp() + (s * time.TimestampFrequency), time.GetUtcNow().UtcTicks + (s * TimeSpan.TicksPerSecond)) : (0, 0);
}
