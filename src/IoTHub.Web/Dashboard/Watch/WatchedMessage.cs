using IoTHub.Broker.Messages;
using IoTHub.Mqtt;
using IoTHub.Web.Api.Publish;

namespace IoTHub.Web.Dashboard.Watch;

/// <summary>Bytes as the watch panel shows them: as text when they are UTF-8, in base64 otherwise.</summary>
/// <param name="Value">The text, or the base64 of binary bytes, cut at <see cref="WatchedMessage.ShownCharacters"/>.</param>
/// <param name="IsBase64">Whether <paramref name="Value"/> is base64.</param>
/// <param name="Size">How many bytes there are.</param>
internal sealed record ShownBytes(string Value, bool IsBase64, int Size)
{
    public static ShownBytes Of(ReadOnlySpan<byte> bytes)
    {
        var text = MessageContent.TextOf(bytes);
        var value = text ?? Convert.ToBase64String(bytes);
        return new ShownBytes(value.Length > WatchedMessage.ShownCharacters ? value[..WatchedMessage.ShownCharacters] + "…" : value, text is null, bytes.Length);
    }
}

/// <summary>A message the watch panel shows, decoded when the circuit takes it (never on the routing thread).</summary>
/// <param name="At">When the broker routed it.</param>
/// <param name="Topic">Its topic.</param>
/// <param name="Qos">The QoS it was published with.</param>
/// <param name="Retain">The RETAIN flag it was published with.</param>
/// <param name="PublisherId">The publishing client; null for the server's own (the API, the dashboard, $SYS).</param>
/// <param name="Payload">Its payload.</param>
/// <param name="ContentType">Content Type.</param>
/// <param name="ResponseTopic">Response Topic.</param>
/// <param name="CorrelationData">Correlation Data.</param>
/// <param name="ExpiresIn">Seconds its Message Expiry Interval had left when it was routed; null when it never expires.</param>
/// <param name="PayloadFormat">Payload Format Indicator: 0 unspecified bytes, 1 UTF-8; null when absent.</param>
/// <param name="UserProperties">User Properties, in order.</param>
internal sealed record WatchedMessage(DateTimeOffset At, string Topic, int Qos, bool Retain, string? PublisherId, ShownBytes Payload,
    string? ContentType, string? ResponseTopic, ShownBytes? CorrelationData, uint? ExpiresIn, byte? PayloadFormat, IReadOnlyList<UserProperty> UserProperties)
{
    /// <summary>A longer payload is cut for the page (its size is still shown).</summary>
    public const int ShownCharacters = 2_000;

    public static WatchedMessage From(MqttMessage message, DateTimeOffset at)
    {
        // Message Expiry Interval is written afresh for each delivery, so the message keeps its end, not the property.
        var properties = MqttProperties.Parse(message.Properties.Span, PropertyTargets.Publish);
        uint? expiresIn = message.ExpiresAtUtc is { } end ? (uint)Math.Max(0, Math.Ceiling((end - at).TotalSeconds)) : null;
        return new WatchedMessage(at, message.Topic, (int)message.QualityOfService, message.Retain, message.PublisherId, ShownBytes.Of(message.Payload.Span),
            properties.ContentType, properties.ResponseTopic, properties.CorrelationData is { } data ? ShownBytes.Of(data) : null, expiresIn,
            properties.PayloadFormatIndicator, properties.UserProperties ?? []);
    }
}
