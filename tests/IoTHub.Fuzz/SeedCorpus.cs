using System.Buffers;
using System.Text;
using IoTHub.Mqtt;

namespace IoTHub.Fuzz;

/// <summary>
/// The seed corpus: valid packets of every type and version, written by the codec's encoder, in the input layout of
/// each harness. The fuzzer starts from these and mutates them; the test command replays them.
/// </summary>
public static class SeedCorpus
{
    private static readonly MqttProtocolVersion[] Versions = [MqttProtocolVersion.V310, MqttProtocolVersion.V311, MqttProtocolVersion.V500];

    /// <summary>Writes <c>decoder/</c> and <c>connection/</c> under <paramref name="folder"/>, replacing the files of the same names.</summary>
    public static void Write(string folder)
    {
        var decoder = Directory.CreateDirectory(Path.Combine(folder, "decoder")).FullName;
        var connection = Directory.CreateDirectory(Path.Combine(folder, "connection")).FullName;
        foreach (var version in Versions)
        {
            var name = Name(version);

            // The decoder: a CONNECT before any version is known, then every packet type at its version, whole and in 7-byte segments.
            File.WriteAllBytes(Path.Combine(decoder, $"{name}-connect"), [0, 0, .. Encode(version, Connect(version, cleanStart: true))]);
            var packets = Encode(version, [.. ClientPackets(version), .. ServerPackets(version)]);
            File.WriteAllBytes(Path.Combine(decoder, $"{name}-all-packets"), [VersionSelector(version), 0, .. packets]);
            File.WriteAllBytes(Path.Combine(decoder, $"{name}-all-packets-in-segments"), [VersionSelector(version), 7, .. packets]);

            // The connection: a session that subscribes, publishes at every QoS, leaves a QoS 2 flow half done and comes back for it.
            byte[] first = [.. Encode(version, [Connect(version, cleanStart: true), .. ClientPackets(version)])];
            byte[] second = [.. Encode(version, Connect(version, cleanStart: false)), .. Encode(version, Ack(PacketType.PubRec, 1), Ack(PacketType.PubComp, 1))];
            File.WriteAllBytes(Path.Combine(connection, $"{name}-session"), [0, .. first, .. ConnectionHarness.Separator, .. second]);
            File.WriteAllBytes(Path.Combine(connection, $"{name}-session-in-writes"), [5, .. first, .. ConnectionHarness.Separator, .. second]);
        }
    }

    private static string Name(MqttProtocolVersion version) => version switch
    {
        MqttProtocolVersion.V310 => "v3.1",
        MqttProtocolVersion.V311 => "v3.1.1",
        _ => "v5",
    };

    /// <summary>The first byte of a decoder input (see <see cref="DecoderHarness"/>).</summary>
    private static byte VersionSelector(MqttProtocolVersion version) => version switch
    {
        MqttProtocolVersion.V310 => 1,
        MqttProtocolVersion.V311 => 2,
        _ => 3,
    };

    private static ConnectPacket Connect(MqttProtocolVersion version, bool cleanStart) => new()
    {
        ProtocolVersion = version,
        ClientId = "fuzz-client",
        CleanStart = cleanStart,
        KeepAlive = 60,
        UserName = "user",
        Password = "password"u8.ToArray(),
        Will = new WillMessage
        {
            Topic = "fuzz/will",
            Payload = "gone"u8.ToArray(),
            QualityOfService = QualityOfService.AtLeastOnce,
            Properties = version == MqttProtocolVersion.V500 ? new MqttProperties { WillDelayInterval = 1, ContentType = "text/plain" } : null,
        },
        Properties = version == MqttProtocolVersion.V500 ? new MqttProperties { SessionExpiryInterval = 300, ReceiveMaximum = 10, TopicAliasMaximum = 5 } : null,
    };

    /// <summary>What a client sends after CONNECT: SUBSCRIBE, PUBLISH at QoS 0, 1 and 2 (the QoS 2 one released), UNSUBSCRIBE, PINGREQ; DISCONNECT is left out, so the will stays.</summary>
    private static IEnumerable<object> ClientPackets(MqttProtocolVersion version)
    {
        var v5 = version == MqttProtocolVersion.V500;
        yield return new SubscribePacket
        {
            PacketId = 1,
            Subscriptions = [new TopicSubscription("fuzz/#", new SubscriptionOptions(QualityOfService.ExactlyOnce)), new TopicSubscription("$share/g/fuzz/+", new SubscriptionOptions(QualityOfService.AtLeastOnce))],
            Properties = v5 ? new MqttProperties { SubscriptionIdentifiers = [7] } : null,
        };
        yield return Publish("fuzz/0", QualityOfService.AtMostOnce, 0, retain: true,
            v5 ? new MqttProperties { MessageExpiryInterval = 60, TopicAlias = 1, UserProperties = [new UserProperty("k", "v")] } : null);
        yield return Publish("fuzz/1", QualityOfService.AtLeastOnce, 2, retain: false, null);
        yield return Publish("fuzz/2", QualityOfService.ExactlyOnce, 3, retain: false, v5 ? new MqttProperties { ResponseTopic = "fuzz/reply", CorrelationData = [1, 2] } : null);
        yield return Ack(PacketType.PubRel, 3);
        yield return new UnsubscribePacket { PacketId = 4, TopicFilters = ["$share/g/fuzz/+"] };
        yield return PingReqPacket.Instance;
    }

    /// <summary>What a server sends: CONNACK, SUBACK, UNSUBACK, the acknowledgements, PINGRESP, and for 5.0 DISCONNECT and AUTH.</summary>
    private static IEnumerable<object> ServerPackets(MqttProtocolVersion version)
    {
        var v5 = version == MqttProtocolVersion.V500;
        yield return new ConnAckPacket { SessionPresent = true, ReasonCode = ReasonCode.Success, Properties = v5 ? new MqttProperties { MaximumQoS = 1, AssignedClientIdentifier = "x" } : null };
        yield return new SubAckPacket { PacketId = 1, ReasonCodes = [ReasonCode.GrantedQoS2, ReasonCode.GrantedQoS1] };
        yield return new UnsubAckPacket { PacketId = 4, ReasonCodes = v5 ? [ReasonCode.Success] : [] };
        yield return Ack(PacketType.PubAck, 2);
        yield return Ack(PacketType.PubRec, 3);
        yield return Ack(PacketType.PubComp, 3);
        yield return PingRespPacket.Instance;
        if (v5)
        {
            yield return new AuthPacket { ReasonCode = ReasonCode.ContinueAuthentication, Properties = new MqttProperties { AuthenticationMethod = "SCRAM-SHA-256", AuthenticationData = [1] } };
            yield return new DisconnectPacket { ReasonCode = ReasonCode.Success, Properties = new MqttProperties { ReasonString = "bye" } };
        }
    }

    private static PublishPacket Publish(string topic, QualityOfService qos, ushort packetId, bool retain, MqttProperties? properties) =>
        new(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(topic)), new ReadOnlySequence<byte>("payload"u8.ToArray()), qos, retain, false, packetId,
            properties is null ? default : new ReadOnlySequence<byte>(properties.ToBytes()));

    private static AckPacket Ack(PacketType type, ushort packetId) => new(type, packetId);

    private static byte[] Encode(MqttProtocolVersion version, params object[] packets)
    {
        var output = new ArrayBufferWriter<byte>();
        foreach (var packet in packets)
        {
            _ = packet switch
            {
                PublishPacket publish => MqttEncoder.WritePublish(output, publish, version),
                AckPacket ack => MqttEncoder.WriteAck(output, ack, version),
                ControlPacket control => MqttEncoder.Write(output, control, version),
                _ => throw new ArgumentException($"not a packet: {packet}", nameof(packets)),
            };
        }

        return output.WrittenSpan.ToArray();
    }
}
