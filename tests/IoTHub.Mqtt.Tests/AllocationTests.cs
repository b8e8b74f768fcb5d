using System.Buffers;
using IoTHub.Mqtt.Tests.Support;

namespace IoTHub.Mqtt.Tests;

/// <summary>
/// Decoding PUBLISH and the publish acknowledgements allocates nothing: topic, payload and properties stay
/// slices of the input. Counted with the runtime's per-thread allocation counter, not timed.
/// </summary>
public sealed class AllocationTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311, false)]
    [InlineData(MqttProtocolVersion.V500, false)]
    [InlineData(MqttProtocolVersion.V500, true)]
    public void Decoding_publish_and_acks_allocates_nothing(MqttProtocolVersion version, bool multiSegment)
    {
        var v5 = version == MqttProtocolVersion.V500;
        var publish = SamplePackets.Publish("sensors/room-1/temperature", new string('x', 1_000), QualityOfService.AtLeastOnce, 42, false, false,
            v5 ? SamplePackets.PublishProperties() : null);
        byte[] bytes =
        [
            .. Codec.Encode(new DecodedPacket(publish), version),
            .. Codec.Encode(new DecodedPacket(new AckPacket(PacketType.PubAck, 42)), version),
            .. Codec.Encode(new DecodedPacket(new AckPacket(PacketType.PubRel, 43)), version),
        ];
        var input = multiSegment ? Sequences.Split(bytes, 5, 17, 600) : new ReadOnlySequence<byte>(bytes);

        // Rounds of 1 000 decodes: a decoder that allocated would allocate in every round, while the
        // runtime's own one-off work (tiering a method up mid-round on a busy machine) touches one round only.
        var checksum = DecodeAll(input, version);
        var fewest = long.MaxValue;
        for (var round = 0; round < 5 && fewest > 0; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1_000; i++)
            {
                checksum += DecodeAll(input, version);
            }

            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, fewest);
        Assert.Equal(0, checksum % (1_000 + 42 + 42 + 43));
    }

    private static long DecodeAll(ReadOnlySequence<byte> input, MqttProtocolVersion version)
    {
        long sum = 0;
        while (MqttDecoder.TryDecode(ref input, version, int.MaxValue, out var packet, out _) == DecodeStatus.Packet)
        {
            sum += packet.Type == PacketType.Publish ? packet.Publish.Payload.Length + packet.Publish.PacketId : packet.Ack.PacketId;
        }

        return sum;
    }
}
