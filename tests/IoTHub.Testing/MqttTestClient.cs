using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using IoTHub.Mqtt;
using Xunit;

namespace IoTHub.Testing;

/// <summary>A PUBLISH as a test client received it, copied out of the pipe.</summary>
public sealed record ReceivedPublish(string Topic, byte[] Payload, QualityOfService QualityOfService, bool Retain, bool Duplicate, ushort PacketId, MqttProperties Properties)
{
    public string PayloadText => Encoding.UTF8.GetString(Payload);
}

/// <summary>One packet from the broker.</summary>
public sealed record Received(PacketType Type, ReceivedPublish? Publish, AckPacket Ack, ControlPacket? Control);

/// <summary>
/// An MQTT client written with our own codec, over any pair of pipes: in-memory ones straight into the
/// engine, or a real socket. Every wait has a timeout and fails the test when it runs out.
/// </summary>
public sealed class MqttTestClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly PipeWriter _toServer;
    private readonly PipeReader _fromServer;
    private readonly IAsyncDisposable? _transport;
    private readonly Channel<Received> _received = Channel.CreateUnbounded<Received>();

    // Deliveries that came while an acknowledgement was awaited: the server may send them in either order.
    private readonly Queue<Received> _heldBack = new();
    private readonly Task _readLoop;
    private readonly bool _reads;
    private ushort _nextPacketId;

    /// <param name="toServer">What the client sends.</param>
    /// <param name="fromServer">What the server sends.</param>
    /// <param name="serverTask">Completes when the server has finished with the connection (in-memory pipes), if known.</param>
    /// <param name="reads">False for a client that never reads, so that its transport fills up like a stuck socket.</param>
    /// <param name="transport">Disposed with the client (a socket's stream).</param>
    public MqttTestClient(PipeWriter toServer, PipeReader fromServer, MqttProtocolVersion version = MqttProtocolVersion.V311,
        Task? serverTask = null, bool reads = true, IAsyncDisposable? transport = null)
    {
        _toServer = toServer;
        _fromServer = fromServer;
        _transport = transport;
        Version = version;
        _reads = reads;
        _readLoop = reads ? ReadLoopAsync() : serverTask ?? Task.CompletedTask;
        ServerTask = serverTask ?? _readLoop;
    }

    public MqttProtocolVersion Version { get; private set; }

    /// <summary>Completes when the server has finished with this connection.</summary>
    public Task ServerTask { get; }

    /// <summary>Completes when the server closed its side of the connection.</summary>
    public Task Closed => _readLoop;

    /// <summary>Opens a TCP connection without sending anything.</summary>
    public static async Task<MqttTestClient> OpenTcpAsync(IPEndPoint endpoint, MqttProtocolVersion version = MqttProtocolVersion.V311)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint).WaitAsync(Timeout);
        var stream = new NetworkStream(socket, ownsSocket: true);
        return new MqttTestClient(PipeWriter.Create(stream), PipeReader.Create(stream), version, transport: stream);
    }

    /// <summary>Connects over TCP and returns the client once CONNACK accepted it.</summary>
    public static async Task<MqttTestClient> ConnectTcpAsync(IPEndPoint endpoint, string clientId, MqttProtocolVersion version = MqttProtocolVersion.V311,
        bool cleanStart = true, MqttProperties? properties = null)
    {
        var client = await OpenTcpAsync(endpoint, version);
        await client.ConnectAcceptedAsync(new ConnectPacket { ProtocolVersion = version, ClientId = clientId, CleanStart = cleanStart, Properties = properties });
        return client;
    }

    /// <summary>Sends CONNECT and fails the test unless CONNACK accepts it.</summary>
    public async Task ConnectAcceptedAsync(ConnectPacket connect)
    {
        var connAck = await ConnectRawAsync(connect);
        Assert.Equal(ReasonCode.Success, connAck.ReasonCode);
        LastConnAck = connAck;
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
        MqttEncoder.Write(_toServer, packet, Version);
        return _toServer.FlushAsync();
    }

    public ValueTask<FlushResult> SendAsync(in AckPacket ack)
    {
        MqttEncoder.WriteAck(_toServer, ack, Version);
        return _toServer.FlushAsync();
    }

    public ValueTask<FlushResult> SendRawAsync(byte[] bytes)
    {
        _toServer.Write(bytes);
        return _toServer.FlushAsync();
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
        MqttEncoder.WritePublish(_toServer, publish, Version);
        await _toServer.FlushAsync();
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

    public async Task<Received> ReceiveAsync() => _heldBack.TryDequeue(out var held) ? held : await ReceiveFromServerAsync();

    private async Task<Received> ReceiveFromServerAsync()
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

    /// <summary>
    /// The next acknowledgement, which must be of <paramref name="type"/>. Deliveries that come first are kept for
    /// <see cref="ReceiveAsync"/>: the server may deliver a message before or after it acknowledges another.
    /// </summary>
    public async Task<AckPacket> ExpectAckAsync(PacketType type)
    {
        while (true)
        {
            var received = await ReceiveFromServerAsync();
            if (received.Type == PacketType.Publish)
            {
                _heldBack.Enqueue(received);
                continue;
            }

            Assert.True(received.Type == type, $"expected {type}, got {received.Type}");
            return received.Ack;
        }
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
        var packets = new List<Received>(_heldBack);
        _heldBack.Clear();
        while (_received.Reader.TryRead(out var packet))
        {
            packets.Add(packet);
        }

        return packets;
    }

    public bool TryReceive(out Received? packet) => _heldBack.TryDequeue(out packet) || _received.Reader.TryRead(out packet);

    /// <summary>True when a packet is waiting to be received.</summary>
    public bool TryPeek() => _heldBack.Count > 0 || _received.Reader.TryPeek(out _);

    public async Task DisconnectAsync()
    {
        await SendAsync(new DisconnectPacket());
        await _toServer.CompleteAsync();
        await ServerTask.WaitAsync(Timeout);
    }

    /// <summary>Drops the connection without DISCONNECT, as a network failure would.</summary>
    public async Task DropAsync()
    {
        await _toServer.CompleteAsync();
        await ServerTask.WaitAsync(Timeout);
    }

    public ushort NextPacketId() => ++_nextPacketId == 0 ? ++_nextPacketId : _nextPacketId;

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _toServer.CompleteAsync();
        }
        catch (IOException)
        {
            // The server closed the connection first (broken pipe, reset): nothing left to send.
        }

        if (_reads)
        {
            // A reader is completed only by its own loop's thread or after it: completed under a read in progress, it throws.
            _fromServer.CancelPendingRead();
            await _readLoop.WaitAsync(Timeout);
        }

        await _fromServer.CompleteAsync();
        await ServerTask.WaitAsync(Timeout);
        if (_transport is not null)
        {
            await _transport.DisposeAsync();
        }
    }

    private async Task ReadLoopAsync()
    {
        var reader = _fromServer;
        try
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await reader.ReadAsync();
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException)
                {
                    // Reset by the server, or disposed by a writer completed after a broken pipe.
                    return;
                }

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
                if (result.IsCompleted || result.IsCanceled)
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

}
