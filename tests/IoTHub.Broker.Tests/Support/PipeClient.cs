using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Threading.Channels;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests.Support;

/// <summary>A PUBLISH as a test client received it, copied out of the pipe.</summary>
internal sealed record ReceivedPublish(string Topic, byte[] Payload, QualityOfService QualityOfService, bool Retain, bool Duplicate, ushort PacketId, MqttProperties Properties)
{
    public string PayloadText => Encoding.UTF8.GetString(Payload);
}

/// <summary>One packet from the broker.</summary>
internal sealed record Received(PacketType Type, ReceivedPublish? Publish, AckPacket Ack, ControlPacket? Control);

/// <summary>
/// A client of the engine over in-memory pipes, written with the codec: no sockets. Every wait has
/// a timeout and fails the test when it runs out.
/// </summary>
internal sealed class PipeClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly Pipe _toBroker = new();
    private readonly Pipe _fromBroker;
    private readonly Channel<Received> _received = Channel.CreateUnbounded<Received>();
    private readonly Task _readLoop;
    private ushort _nextPacketId;

    private PipeClient(MqttBroker broker, MqttProtocolVersion version, PipeOptions? fromBrokerOptions, bool reads)
    {
        Version = version;
        _fromBroker = new Pipe(fromBrokerOptions ?? PipeOptions.Default);
        BrokerTask = broker.HandleConnectionAsync(new DuplexPipe(_toBroker.Reader, _fromBroker.Writer), "pipe");
        _readLoop = reads ? ReadLoopAsync() : BrokerTask;
    }

    public MqttProtocolVersion Version { get; private set; }

    /// <summary>Completes when the broker has finished with this connection.</summary>
    public Task BrokerTask { get; }

    /// <summary>Completes when the broker closed its side of the connection.</summary>
    public Task Closed => _readLoop;

    /// <summary>Opens the pipe without sending anything, for tests of the first packet.</summary>
    public static PipeClient Open(MqttBroker broker, MqttProtocolVersion version = MqttProtocolVersion.V311, PipeOptions? fromBrokerOptions = null) =>
        new(broker, version, fromBrokerOptions, reads: true);

    /// <summary>A client that never reads what the broker sends: its pipe fills up like a stuck socket.</summary>
    public static PipeClient OpenWithoutReading(MqttBroker broker, PipeOptions fromBrokerOptions) =>
        new(broker, MqttProtocolVersion.V311, fromBrokerOptions, reads: false);

    /// <summary>Connects and returns the client once CONNACK accepted it.</summary>
    public static async Task<PipeClient> ConnectAsync(MqttBroker broker, string clientId, MqttProtocolVersion version = MqttProtocolVersion.V311,
        bool cleanStart = true, ushort keepAlive = 0, MqttProperties? properties = null, PipeOptions? fromBrokerOptions = null)
    {
        var client = Open(broker, version, fromBrokerOptions);
        var connAck = await client.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = clientId,
            CleanStart = cleanStart,
            KeepAlive = keepAlive,
            Properties = properties,
        });
        Assert.Equal(ReasonCode.Success, connAck.ReasonCode);
        client.LastConnAck = connAck;
        return client;
    }

    public ConnAckPacket? LastConnAck { get; private set; }

    public async Task<ConnAckPacket> ConnectRawAsync(ConnectPacket connect)
    {
        Version = connect.ProtocolVersion;
        await SendAsync(connect);
        return await ExpectAsync<ConnAckPacket>();
    }

    public ValueTask<FlushResult> SendAsync(ControlPacket packet)
    {
        MqttEncoder.Write(_toBroker.Writer, packet, Version);
        return _toBroker.Writer.FlushAsync();
    }

    public ValueTask<FlushResult> SendAsync(in AckPacket ack)
    {
        MqttEncoder.WriteAck(_toBroker.Writer, ack, Version);
        return _toBroker.Writer.FlushAsync();
    }

    public ValueTask<FlushResult> SendRawAsync(byte[] bytes)
    {
        _toBroker.Writer.Write(bytes);
        return _toBroker.Writer.FlushAsync();
    }

    /// <summary>Sends a PUBLISH; returns its packet id (0 for QoS 0). Acknowledgements are left to the test.</summary>
    public async Task<ushort> PublishAsync(string topic, string payload, QualityOfService qos = QualityOfService.AtMostOnce, bool retain = false,
        ushort packetId = 0, bool duplicate = false, MqttProperties? properties = null)
    {
        if (qos != QualityOfService.AtMostOnce && packetId == 0)
        {
            packetId = NextPacketId();
        }

        var publish = new PublishPacket(
            new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(topic)),
            new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(payload)),
            qos, retain, duplicate, packetId,
            properties is null ? default : new ReadOnlySequence<byte>(properties.ToBytes()));
        MqttEncoder.WritePublish(_toBroker.Writer, publish, Version);
        await _toBroker.Writer.FlushAsync();
        return packetId;
    }

    /// <summary>Publishes at QoS 1 and waits for its PUBACK, so the broker has routed it.</summary>
    public async Task PublishAndWaitAsync(string topic, string payload, bool retain = false)
    {
        var id = await PublishAsync(topic, payload, QualityOfService.AtLeastOnce, retain);
        var ack = await ExpectAckAsync(PacketType.PubAck);
        Assert.Equal(id, ack.PacketId);
    }

    public async Task<SubAckPacket> SubscribeAsync(string filter, QualityOfService qos = QualityOfService.AtMostOnce, SubscriptionOptions? options = null)
    {
        var id = NextPacketId();
        await SendAsync(new SubscribePacket
        {
            PacketId = id,
            Subscriptions = [new TopicSubscription(filter, options ?? new SubscriptionOptions(qos))],
        });
        var subAck = await ExpectAsync<SubAckPacket>();
        Assert.Equal(id, subAck.PacketId);
        return subAck;
    }

    public async Task<UnsubAckPacket> UnsubscribeAsync(string filter)
    {
        var id = NextPacketId();
        await SendAsync(new UnsubscribePacket { PacketId = id, TopicFilters = [filter] });
        var unsubAck = await ExpectAsync<UnsubAckPacket>();
        Assert.Equal(id, unsubAck.PacketId);
        return unsubAck;
    }

    public async Task<Received> ReceiveAsync()
    {
        try
        {
            return await _received.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        }
        catch (ChannelClosedException)
        {
            Assert.Fail("the broker closed the connection while a packet was expected");
            throw;
        }
    }

    public async Task<ReceivedPublish> ExpectPublishAsync()
    {
        var received = await ReceiveAsync();
        Assert.True(received.Type == PacketType.Publish, $"expected PUBLISH, got {received.Type}");
        return received.Publish!;
    }

    public async Task<AckPacket> ExpectAckAsync(PacketType type)
    {
        var received = await ReceiveAsync();
        Assert.True(received.Type == type, $"expected {type}, got {received.Type}");
        return received.Ack;
    }

    public async Task<T> ExpectAsync<T>()
        where T : ControlPacket
    {
        var received = await ReceiveAsync();
        Assert.True(received.Control is T, $"expected {typeof(T).Name}, got {received.Type}");
        return (T)received.Control!;
    }

    /// <summary>Waits until the broker closes the connection.</summary>
    public async Task ExpectClosedAsync()
    {
        await Closed.WaitAsync(Timeout);
    }

    /// <summary>Packets received before the broker closed the connection.</summary>
    public async Task<List<Received>> DrainUntilClosedAsync()
    {
        await Closed.WaitAsync(Timeout);
        var packets = new List<Received>();
        while (_received.Reader.TryRead(out var packet))
        {
            packets.Add(packet);
        }

        return packets;
    }

    public bool TryReceive(out Received? packet) => _received.Reader.TryRead(out packet);

    public async Task DisconnectAsync()
    {
        await SendAsync(new DisconnectPacket());
        await _toBroker.Writer.CompleteAsync();
        await BrokerTask.WaitAsync(Timeout);
    }

    /// <summary>Drops the connection without DISCONNECT, as a network failure would.</summary>
    public async Task DropAsync()
    {
        await _toBroker.Writer.CompleteAsync();
        await BrokerTask.WaitAsync(Timeout);
    }

    public ushort NextPacketId() => ++_nextPacketId == 0 ? ++_nextPacketId : _nextPacketId;

    public async ValueTask DisposeAsync()
    {
        await _toBroker.Writer.CompleteAsync();
        await _fromBroker.Reader.CompleteAsync();
        await BrokerTask.WaitAsync(Timeout);
    }

    private async Task ReadLoopAsync()
    {
        var reader = _fromBroker.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                while (true)
                {
                    var status = MqttDecoder.TryDecode(ref buffer, Version, int.MaxValue, out var packet, out var error);
                    if (status == DecodeStatus.Malformed)
                    {
                        throw new InvalidOperationException($"broker sent a malformed packet: {error}");
                    }

                    if (status == DecodeStatus.NeedMoreData)
                    {
                        break;
                    }

                    _received.Writer.TryWrite(Copy(packet));
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            _received.Writer.TryComplete();
        }
    }

    private static Received Copy(in DecodedPacket packet)
    {
        if (packet.Type != PacketType.Publish)
        {
            return new Received(packet.Type, null, packet.Ack, packet.Control);
        }

        var p = packet.Publish;
        return new Received(PacketType.Publish,
            new ReceivedPublish(p.TopicString(), p.Payload.ToArray(), p.QualityOfService, p.Retain, p.Duplicate, p.PacketId, p.ReadProperties()),
            default, null);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
