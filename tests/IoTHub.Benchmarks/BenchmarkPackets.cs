using System.Buffers;
using System.Text;
using IoTHub.Mqtt;

namespace IoTHub.Benchmarks;

/// <summary>The packets the benchmarks encode and decode, built through the codec's public API.</summary>
internal static class BenchmarkPackets
{
    /// <summary>Large enough for any packet here, so decoding never refuses one for its size.</summary>
    public const int MaximumPacketSize = 268_435_460;

    public const string PublishTopic = "devices/sensor-0042/telemetry";

    public const ushort PublishPacketId = 4242;

    /// <summary>
    /// A QoS 1 PUBLISH whose payload is <paramref name="payloadBytes"/> bytes. For 5.0 it carries a
    /// few common properties (Message Expiry, Content Type, one User Property).
    /// </summary>
    public static PublishPacket Publish(int payloadBytes, MqttProtocolVersion version)
    {
        var payload = new byte[payloadBytes];
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)('a' + (i % 26));
        }

        var properties = version == MqttProtocolVersion.V500
            ? new MqttProperties
            {
                MessageExpiryInterval = 3600,
                ContentType = "application/json",
                UserProperties = [new("site", "plant-7")],
            }.ToBytes()
            : [];

        return new PublishPacket(
            new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(PublishTopic)),
            new ReadOnlySequence<byte>(payload),
            QualityOfService.AtLeastOnce,
            retain: false,
            duplicate: false,
            PublishPacketId,
            new ReadOnlySequence<byte>(properties));
    }

    /// <summary>CONNECT with a will, user name and password; 5.0 adds connect and will properties.</summary>
    public static ConnectPacket Connect(MqttProtocolVersion version)
    {
        var v5 = version == MqttProtocolVersion.V500;
        return new ConnectPacket
        {
            ProtocolVersion = version,
            CleanStart = false,
            KeepAlive = 60,
            ClientId = "sensor-0042",
            UserName = "device-user",
            Password = "s3cret-password"u8.ToArray(),
            Will = new WillMessage
            {
                Topic = "devices/sensor-0042/status",
                Payload = "offline"u8.ToArray(),
                QualityOfService = QualityOfService.AtLeastOnce,
                Retain = true,
                Properties = v5 ? new MqttProperties { WillDelayInterval = 30, ContentType = "text/plain" } : null,
            },
            Properties = v5
                ? new MqttProperties { SessionExpiryInterval = 3600, ReceiveMaximum = 100, TopicAliasMaximum = 10 }
                : null,
        };
    }

    /// <summary>SUBSCRIBE with three filters (plain, single-level and multi-level wildcard).</summary>
    public static SubscribePacket Subscribe(MqttProtocolVersion version) => new()
    {
        PacketId = 17,
        Subscriptions =
        [
            new("devices/sensor-0042/commands", new SubscriptionOptions(QualityOfService.AtLeastOnce)),
            new("devices/+/status", new SubscriptionOptions(QualityOfService.AtMostOnce)),
            new("plant-7/#", new SubscriptionOptions(QualityOfService.ExactlyOnce)),
        ],
        Properties = version == MqttProtocolVersion.V500 ? new MqttProperties { SubscriptionIdentifiers = [5] } : null,
    };

    public static byte[] Encode(in PublishPacket packet, MqttProtocolVersion version)
    {
        var output = new ArrayBufferWriter<byte>();
        MqttEncoder.WritePublish(output, packet, version);
        return output.WrittenSpan.ToArray();
    }

    public static byte[] Encode(ControlPacket packet, MqttProtocolVersion version)
    {
        var output = new ArrayBufferWriter<byte>();
        MqttEncoder.Write(output, packet, version);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Decodes <paramref name="bytes"/> once and checks that they hold exactly one packet of
    /// <paramref name="expected"/> type, so a benchmark never measures the error path by mistake.
    /// </summary>
    public static void EnsureDecodes(in ReadOnlySequence<byte> bytes, MqttProtocolVersion version, PacketType expected)
    {
        var buffer = bytes;
        var status = MqttDecoder.TryDecode(ref buffer, version, MaximumPacketSize, out var packet, out var error);
        if (status != DecodeStatus.Packet || packet.Type != expected || !buffer.IsEmpty)
        {
            throw new InvalidOperationException($"Benchmark input does not decode as one {expected}: {status} {error}");
        }
    }
}
