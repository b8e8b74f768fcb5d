using System.Buffers;

namespace IoTHub.Mqtt.Tests.Support;

/// <summary>A valid packet of every type for each protocol version, with every field and property used.</summary>
internal static class SamplePackets
{
    public static readonly MqttProtocolVersion[] Versions = [MqttProtocolVersion.V310, MqttProtocolVersion.V311, MqttProtocolVersion.V500];

    public static IEnumerable<(string Name, MqttProtocolVersion Version, DecodedPacket Packet)> All()
    {
        foreach (var version in Versions)
        {
            foreach (var (name, packet) in For(version))
            {
                yield return (name, version, packet);
            }
        }
    }

    public static IEnumerable<(string Name, DecodedPacket Packet)> For(MqttProtocolVersion version)
    {
        var v5 = version == MqttProtocolVersion.V500;
        MqttProperties? P(MqttProperties properties) => v5 ? properties : null;

        yield return ("CONNECT minimal", new(new ConnectPacket { ProtocolVersion = version, ClientId = "c" }));
        yield return ("CONNECT full", new(new ConnectPacket
        {
            ProtocolVersion = version,
            CleanStart = false,
            KeepAlive = 65535,
            ClientId = "device-ÄÖ-42",
            UserName = "user",
            Password = [0, 1, 2, 255],
            Will = new WillMessage
            {
                Topic = "devices/42/status",
                Payload = "offline"u8.ToArray(),
                QualityOfService = QualityOfService.ExactlyOnce,
                Retain = true,
                Properties = P(WillProperties()),
            },
            Properties = P(ConnectProperties()),
        }));
        yield return ("CONNECT will QoS 1 no retain", new(new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = "w",
            Will = new WillMessage { Topic = "t", Payload = [], QualityOfService = QualityOfService.AtLeastOnce },
        }));
        yield return ("CONNACK accepted", new(new ConnAckPacket { SessionPresent = true, Properties = P(ConnAckProperties()) }));
        yield return ("CONNACK refused", new(new ConnAckPacket { ReasonCode = ReasonCode.NotAuthorized }));

        yield return ("PUBLISH QoS 0", new(Publish("a/b", "hello", QualityOfService.AtMostOnce, 0, retain: false, dup: false, props: null)));
        yield return ("PUBLISH QoS 1 retain", new(Publish("a/b/c", "x", QualityOfService.AtLeastOnce, 1, retain: true, dup: false, props: P(PublishProperties()))));
        yield return ("PUBLISH QoS 2 dup", new(Publish("$SYS/x", "", QualityOfService.ExactlyOnce, 65535, retain: false, dup: true, props: null)));
        yield return ("PUBLISH 1000 bytes", new(Publish("big", new string('p', 1000), QualityOfService.AtLeastOnce, 7, retain: false, dup: false, props: null)));

        foreach (var type in new[] { PacketType.PubAck, PacketType.PubRec, PacketType.PubRel, PacketType.PubComp })
        {
            yield return ($"{type} success", new(new AckPacket(type, 1)));
            if (v5)
            {
                var failure = type is PacketType.PubAck or PacketType.PubRec ? ReasonCode.QuotaExceeded : ReasonCode.PacketIdentifierNotFound;
                yield return ($"{type} reason only", new(new AckPacket(type, 2, failure)));
                yield return ($"{type} reason and properties", new(new AckPacket(type, 65535, failure, ReasonAndUser())));
                yield return ($"{type} success with properties", new(new AckPacket(type, 3, ReasonCode.Success, ReasonAndUser())));
            }
        }

        yield return ("SUBSCRIBE", new(new SubscribePacket
        {
            PacketId = 10,
            Subscriptions =
            [
                new("a/+/c", new SubscriptionOptions(QualityOfService.AtMostOnce)),
                new("#", new SubscriptionOptions(QualityOfService.AtLeastOnce)),
                v5
                    ? new("$share/g/x/#", new SubscriptionOptions(QualityOfService.ExactlyOnce, false, true, RetainHandling.DoNotSend))
                    : new("x/#", new SubscriptionOptions(QualityOfService.ExactlyOnce)),
                v5
                    ? new("local", new SubscriptionOptions(QualityOfService.AtLeastOnce, true, false, RetainHandling.SendAtSubscribeIfNew))
                    : new("local", new SubscriptionOptions(QualityOfService.AtLeastOnce)),
            ],
            Properties = P(new MqttProperties { SubscriptionIdentifiers = [268_435_455], UserProperties = [new("k", "v")] }),
        }));
        yield return ("SUBACK", new(new SubAckPacket
        {
            PacketId = 10,
            ReasonCodes = v5
                ? [ReasonCode.Success, ReasonCode.GrantedQoS1, ReasonCode.GrantedQoS2, ReasonCode.TopicFilterInvalid, ReasonCode.SharedSubscriptionsNotSupported]
                : [ReasonCode.Success, ReasonCode.GrantedQoS1, ReasonCode.GrantedQoS2, ReasonCode.UnspecifiedError],
            Properties = P(ReasonAndUser()),
        }));
        yield return ("UNSUBSCRIBE", new(new UnsubscribePacket
        {
            PacketId = 11,
            TopicFilters = ["a/+/c", "#"],
            Properties = P(new MqttProperties { UserProperties = [new("k", "v"), new("k", "v2")] }),
        }));
        yield return ("UNSUBACK", new(new UnsubAckPacket
        {
            PacketId = 11,
            ReasonCodes = v5 ? [ReasonCode.Success, ReasonCode.NoSubscriptionExisted] : [],
            Properties = P(ReasonAndUser()),
        }));
        yield return ("PINGREQ", new(PingReqPacket.Instance));
        yield return ("PINGRESP", new(PingRespPacket.Instance));
        yield return ("DISCONNECT", new(new DisconnectPacket()));
        if (v5)
        {
            yield return ("DISCONNECT with will", new(new DisconnectPacket { ReasonCode = ReasonCode.DisconnectWithWillMessage }));
            yield return ("DISCONNECT full", new(new DisconnectPacket
            {
                ReasonCode = ReasonCode.ServerMoved,
                Properties = new MqttProperties
                {
                    SessionExpiryInterval = 0,
                    ServerReference = "other:1883",
                    ReasonString = "moved",
                    UserProperties = [new("a", "b")],
                },
            }));
            yield return ("AUTH success", new(new AuthPacket()));
            yield return ("AUTH continue", new(new AuthPacket
            {
                ReasonCode = ReasonCode.ContinueAuthentication,
                Properties = new MqttProperties
                {
                    AuthenticationMethod = "SCRAM-SHA-256",
                    AuthenticationData = [1, 2, 3],
                    ReasonString = "more",
                    UserProperties = [new("x", "y")],
                },
            }));
        }
    }

    public static PublishPacket Publish(string topic, string payload, QualityOfService qos, ushort packetId, bool retain, bool dup, MqttProperties? props) =>
        new(
            Codec.Bytes(topic),
            Codec.Bytes(payload),
            qos,
            retain,
            dup,
            packetId,
            props is null ? default : new ReadOnlySequence<byte>(props.ToBytes()));

    public static MqttProperties ConnectProperties() => new()
    {
        SessionExpiryInterval = 3600,
        AuthenticationMethod = "PLAIN",
        AuthenticationData = [9, 8, 7],
        RequestProblemInformation = false,
        RequestResponseInformation = true,
        ReceiveMaximum = 100,
        TopicAliasMaximum = 10,
        MaximumPacketSize = 1_048_576,
        UserProperties = [new("app", "test"), new("app", "again"), new("ü", "ß")],
    };

    public static MqttProperties WillProperties() => new()
    {
        PayloadFormatIndicator = 1,
        MessageExpiryInterval = 60,
        ContentType = "text/plain",
        ResponseTopic = "replies/42",
        CorrelationData = [1, 2, 3],
        WillDelayInterval = 30,
        UserProperties = [new("will", "yes")],
    };

    public static MqttProperties ConnAckProperties() => new()
    {
        SessionExpiryInterval = 0,
        AssignedClientIdentifier = "auto-1",
        ServerKeepAlive = 30,
        AuthenticationMethod = "PLAIN",
        AuthenticationData = [1],
        ResponseInformation = "responses/",
        ServerReference = "backup:1883",
        ReasonString = "welcome",
        ReceiveMaximum = 65535,
        TopicAliasMaximum = 0,
        MaximumQoS = 1,
        RetainAvailable = true,
        MaximumPacketSize = 268_435_460,
        WildcardSubscriptionAvailable = true,
        SubscriptionIdentifierAvailable = false,
        SharedSubscriptionAvailable = true,
        UserProperties = [new("server", "iothub")],
    };

    public static MqttProperties PublishProperties() => new()
    {
        PayloadFormatIndicator = 0,
        MessageExpiryInterval = 4_294_967_295,
        ContentType = "application/json",
        ResponseTopic = "reply/to",
        CorrelationData = [0xDE, 0xAD],
        SubscriptionIdentifiers = [1, 127, 128, 16_383, 16_384, 268_435_455],
        TopicAlias = 5,
        UserProperties = [new("z", "1"), new("a", "2"), new("z", "3")],
    };

    public static MqttProperties ReasonAndUser() => new() { ReasonString = "because", UserProperties = [new("k", "v")] };
}
