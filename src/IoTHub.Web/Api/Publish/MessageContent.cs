using System.Text;
using IoTHub.Broker;
using IoTHub.Broker.Messages;
using IoTHub.Mqtt;

namespace IoTHub.Web.Api.Publish;

/// <summary>How a payload is written in a request: plain UTF-8 text, or base64 for binary payloads.</summary>
internal enum PayloadEncoding
{
    Text,
    Base64,
}

/// <summary>An MQTT 5.0 user property.</summary>
internal sealed record UserPropertyItem(string Name, string Value);

/// <summary>MQTT 5.0 PUBLISH properties (MQTT 5.0 §3.3.2.3). 3.1.1 subscribers get the message without them.</summary>
/// <param name="ContentType">MIME type of the payload, e.g. application/json.</param>
/// <param name="ResponseTopic">Topic a request's response should go to.</param>
/// <param name="CorrelationData">Correlation data, in base64.</param>
/// <param name="MessageExpiryInterval">Seconds after which the message is no longer delivered (and a retained one is removed).</param>
/// <param name="PayloadIsUtf8">Payload Format Indicator: true when the payload is UTF-8 text.</param>
/// <param name="UserProperties">Name/value pairs, in order; a name may repeat.</param>
internal sealed record MessageProperties(string? ContentType = null, string? ResponseTopic = null, string? CorrelationData = null,
    uint? MessageExpiryInterval = null, bool? PayloadIsUtf8 = null, IReadOnlyList<UserPropertyItem>? UserProperties = null)
{
    public static MessageProperties? From(MqttMessage message)
    {
        if (message.Properties.IsEmpty)
        {
            return null;
        }

        var p = MqttProperties.Parse(message.Properties.Span, PropertyTargets.Publish);
        return new MessageProperties(p.ContentType, p.ResponseTopic, p.CorrelationData is { } data ? Convert.ToBase64String(data) : null,
            p.MessageExpiryInterval, p.PayloadFormatIndicator is { } format ? format == 1 : null,
            p.UserProperties is { } users ? [.. users.Select(static u => new UserPropertyItem(u.Name, u.Value))] : null);
    }
}

/// <summary>A retained message.</summary>
/// <param name="Broker">The broker that keeps it.</param>
/// <param name="Topic">Its topic.</param>
/// <param name="Qos">The QoS it was published with.</param>
/// <param name="Payload">The payload in base64.</param>
/// <param name="PayloadText">The payload as text when it is valid UTF-8; null otherwise.</param>
/// <param name="Size">Payload size in bytes.</param>
/// <param name="Properties">Its MQTT 5.0 properties; null when none.</param>
/// <param name="StoredAt">When the broker kept it (UTC); null for one kept before retained messages recorded it.</param>
/// <param name="PublisherClientId">The client id of the client that published it; null when it was set through the admin API or the dashboard (the audit log says by whom) or made by the broker.</param>
/// <param name="PublisherUserName">The user name that client logged in with; null for an anonymous client, or when <paramref name="PublisherClientId"/> is null.</param>
internal sealed record RetainedMessageInfo(string Broker, string Topic, int Qos, string Payload, string? PayloadText, int Size, MessageProperties? Properties,
    DateTimeOffset? StoredAt, string? PublisherClientId, string? PublisherUserName)
{
    public static RetainedMessageInfo From(string broker, MqttMessage message) =>
        new(broker, message.Topic, (int)message.QualityOfService, Convert.ToBase64String(message.Payload.Span), MessageContent.TextOf(message.Payload.Span),
            message.Payload.Length, MessageProperties.From(message), message.StoredAt, message.PublisherId, message.PublisherUserName);
}

/// <summary>Checks and builds messages from API requests, with the broker's own limits.</summary>
internal static class MessageContent
{
    private const string SystemTopics = "$SYS";
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The bytes as text when they are valid UTF-8; null otherwise (binary data).</summary>
    public static string? TextOf(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>Why a write under $SYS/ is refused.</summary>
    public const string SystemTopicRefused = $"is under {SystemTopics}/, where only the broker writes.";

    /// <summary>Whether a topic or topic filter is under $SYS/, the broker's own topics.</summary>
    public static bool IsSystemTopic(string topic) => topic == SystemTopics || topic.StartsWith(SystemTopics + "/", StringComparison.Ordinal);

    public static void ValidateTopic(string? topic, MqttBroker broker, ValidationErrors errors)
    {
        if (string.IsNullOrEmpty(topic))
        {
            errors.Add("topic", "is required.");
        }
        else if (IsSystemTopic(topic))
        {
            errors.Add("topic", SystemTopicRefused);
        }
        else if (broker.CheckTopicName(topic) is { } problem)
        {
            errors.Add("topic", $"is refused: {problem}.");
        }
    }

    /// <summary>The message a publish request asks for, or null with the reasons in <paramref name="errors"/>.</summary>
    public static MqttMessage? BuildPublish(PublishRequest request, MqttBroker broker, ValidationErrors errors)
    {
        ValidateTopic(request.Topic, broker, errors);
        if (request.Retain && !broker.Options.RetainAvailable)
        {
            errors.Add("retain", "is not available on this broker (Mqtt:RetainAvailable is false).");
        }

        return Build(request.Topic ?? string.Empty, request.Payload, request.Encoding, request.Qos, request.Retain, request.Properties, broker, errors);
    }

    /// <summary>The message, or null with the reasons in <paramref name="errors"/>.</summary>
    public static MqttMessage? Build(string topic, string? payload, PayloadEncoding encoding, int qos, bool retain, MessageProperties? properties,
        MqttBroker broker, ValidationErrors errors)
    {
        if (qos < 0 || qos > (int)broker.Options.MaximumQoS)
        {
            errors.Add("qos", $"must be from 0 to {(int)broker.Options.MaximumQoS} (this broker's maximum QoS).");
        }

        if (!Enum.IsDefined(encoding))
        {
            errors.Add("encoding", "must be Text or Base64.");
        }

        byte[] bytes = [];
        if (encoding == PayloadEncoding.Base64)
        {
            try
            {
                bytes = Convert.FromBase64String(payload ?? string.Empty);
            }
            catch (FormatException)
            {
                errors.Add("payload", "is not valid base64.");
            }
        }
        else
        {
            bytes = Encoding.UTF8.GetBytes(payload ?? string.Empty);
        }

        if (bytes.Length > broker.Options.MaximumPacketSize)
        {
            errors.Add("payload", $"is larger than this broker's maximum packet size ({broker.Options.MaximumPacketSize} bytes).");
        }

        var mqtt = ToMqtt(properties, errors);
        return errors.Any ? null : MqttMessage.Create(topic, bytes, (QualityOfService)qos, retain, mqtt);
    }

    private static MqttProperties? ToMqtt(MessageProperties? properties, ValidationErrors errors)
    {
        if (properties is null)
        {
            return null;
        }

        byte[]? correlation = null;
        if (properties.CorrelationData is { } data)
        {
            try
            {
                correlation = Convert.FromBase64String(data);
            }
            catch (FormatException)
            {
                errors.Add("properties.correlationData", "is not valid base64.");
            }
        }

        if (properties.ResponseTopic is { } response && !TopicRules.IsValidTopicName(response))
        {
            errors.Add("properties.responseTopic", "must be a topic name without wildcards.");
        }

        if (properties.UserProperties?.Any(static u => u is null || u.Name is null || u.Value is null) == true)
        {
            errors.Add("properties.userProperties", "every item needs a name and a value.");
        }

        // Built only when every item passed: a null user property would throw here (it answered 500).
        return errors.Any ? null : new MqttProperties
        {
            ContentType = properties.ContentType,
            ResponseTopic = properties.ResponseTopic,
            CorrelationData = correlation,
            MessageExpiryInterval = properties.MessageExpiryInterval,
            PayloadFormatIndicator = properties.PayloadIsUtf8 is { } utf8 ? (byte)(utf8 ? 1 : 0) : null,
            UserProperties = properties.UserProperties is { } users ? [.. users.Select(static u => new UserProperty(u.Name, u.Value))] : null,
        };
    }
}
