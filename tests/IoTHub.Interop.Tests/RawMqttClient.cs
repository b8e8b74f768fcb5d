using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using IoTHub.Mqtt;

namespace IoTHub.Interop.Tests;

/// <summary>
/// A bare TCP client that writes MQTT packets byte by byte as the specifications lay them out, written
/// here and not with the project's codec, so that it can do what libraries do not: stop mid-flow, drop
/// the connection at a chosen packet, never read, never ping.
/// </summary>
internal sealed class RawMqttClient : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly List<byte> _pending = [];

    private RawMqttClient(Socket socket, int level)
    {
        _socket = socket;
        Level = level;
    }

    /// <summary>The protocol level: 4 for MQTT 3.1.1, 5 for MQTT 5.0.</summary>
    public int Level { get; }

    /// <summary>Opens the TCP connection; a receive buffer size, when given, is set before connecting (it caps the TCP window).</summary>
    private static async Task<RawMqttClient> OpenAsync(IPEndPoint endpoint, Protocol protocol, int? receiveBufferSize = null)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            socket.ReceiveBufferSize = size;
        }

        await socket.ConnectAsync(endpoint);
        return new RawMqttClient(socket, protocol == Protocol.V500 ? 5 : 4);
    }

    /// <summary>Opens a connection and sends CONNECT; returns once the CONNACK was successful, with its Session Present flag.</summary>
    public static async Task<(RawMqttClient Client, bool SessionPresent)> ConnectAsync(
        IPEndPoint endpoint, Protocol protocol, string clientId, bool clean = true, ushort keepAlive = 0, uint sessionExpiry = 0,
        int? receiveBufferSize = null, ushort receiveMaximum = 0, ushort topicAliasMaximum = 0)
    {
        var client = await OpenAsync(endpoint, protocol, receiveBufferSize);
        try
        {
            await client.SendAsync(client.Connect(clientId, clean, keepAlive, sessionExpiry, receiveMaximum, topicAliasMaximum));
            var connAck = await client.ReadAsync();
            Assert.Equal(PacketType.ConnAck, connAck.Type);
            Assert.Equal(0, connAck.Body[1]); // return code / reason code: accepted
            return (client, (connAck.Body[0] & 1) == 1);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public async Task SendAsync(byte[] packet) => await _socket.SendAsync(packet);

    /// <summary>SUBSCRIBE to one filter and wait for its SUBACK, which must grant the QoS asked for.</summary>
    public async Task SubscribeAsync(string filter, int qos, ushort packetId = 1)
    {
        var body = new List<byte>();
        AddUInt16(body, packetId);
        AddProperties(body);
        AddString(body, filter);
        body.Add((byte)qos);
        await SendAsync(Packet(0x82, body));

        var subAck = await ReadAsync();
        Assert.Equal(PacketType.SubAck, subAck.Type);
        Assert.Equal(packetId, subAck.PacketId);
        Assert.Equal(qos, subAck.Body[^1]);
    }

    /// <summary>CONNECT; for 5.0, Receive Maximum and Topic Alias Maximum are sent when above 0.</summary>
    public byte[] Connect(string clientId, bool clean, ushort keepAlive, uint sessionExpiry, ushort receiveMaximum = 0, ushort topicAliasMaximum = 0)
    {
        var body = new List<byte>();
        AddString(body, "MQTT");
        body.Add((byte)Level);
        body.Add(clean ? (byte)0x02 : (byte)0x00);
        AddUInt16(body, keepAlive);
        if (Level == 5)
        {
            var properties = new List<byte>();
            if (sessionExpiry > 0)
            {
                properties.Add(0x11); // Session Expiry Interval
                var value = new byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(value, sessionExpiry);
                properties.AddRange(value);
            }

            if (receiveMaximum > 0)
            {
                properties.Add(0x21); // Receive Maximum
                AddUInt16(properties, receiveMaximum);
            }

            if (topicAliasMaximum > 0)
            {
                properties.Add(0x22); // Topic Alias Maximum
                AddUInt16(properties, topicAliasMaximum);
            }

            AddVariableByteInteger(body, properties.Count);
            body.AddRange(properties);
        }

        AddString(body, clientId);
        return Packet(0x10, body);
    }

    public byte[] Publish(string topic, string payload, int qos, ushort packetId = 0, bool duplicate = false)
    {
        var body = new List<byte>();
        AddString(body, topic);
        if (qos > 0)
        {
            AddUInt16(body, packetId);
        }

        AddProperties(body);
        body.AddRange(Encoding.UTF8.GetBytes(payload));
        var header = 0x30 | (duplicate ? 0x08 : 0) | (qos << 1);
        return Packet((byte)header, body);
    }

    /// <summary>PUBACK, PUBREC, PUBREL or PUBCOMP with reason Success (5.0 allows leaving the reason code out then).</summary>
    public static byte[] Ack(PacketType type, ushort packetId)
    {
        var header = (byte)((int)type << 4 | (type == PacketType.PubRel ? 0x02 : 0)); // PUBREL's fixed-header flags are 0010
        return [header, 2, (byte)(packetId >> 8), (byte)packetId];
    }

    /// <summary>Reads the next packet; fails when the connection closes first or nothing comes in time.</summary>
    public async Task<RawPacket> ReadAsync(TimeSpan? timeout = null) =>
        await TryReadAsync(timeout) ?? throw new InvalidOperationException("the server closed the connection");

    /// <summary>Reads the next packet, or null when the server closed the connection (FIN or reset).</summary>
    public async Task<RawPacket?> TryReadAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? Timeout);
        while (true)
        {
            if (TryTakePacket(out var packet))
            {
                return packet;
            }

            int read;
            try
            {
                read = await _socket.ReceiveAsync(_buffer, cancel.Token);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                return null;
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no packet within {timeout ?? Timeout}");
            }

            if (read == 0)
            {
                return null;
            }

            _pending.AddRange(_buffer.AsSpan(0, read));
        }
    }

    /// <summary>
    /// Reads and discards whatever arrives until the server closes the connection; true when it did within
    /// the timeout. This is how a client sees "the server closed the network connection".
    /// </summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            while (await _socket.ReceiveAsync(_buffer, cancel.Token) > 0)
            {
                _pending.Clear();
            }

            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose() => _socket.Dispose();

    private bool TryTakePacket(out RawPacket packet)
    {
        packet = default;
        if (_pending.Count < 2)
        {
            return false;
        }

        // Remaining length: a variable byte integer of up to 4 bytes.
        int length = 0, multiplier = 1, index = 1;
        while (true)
        {
            if (index >= _pending.Count)
            {
                return false;
            }

            var b = _pending[index++];
            length += (b & 0x7F) * multiplier;
            if ((b & 0x80) == 0)
            {
                break;
            }

            multiplier *= 128;
        }

        if (_pending.Count < index + length)
        {
            return false;
        }

        packet = new RawPacket(_pending[0], [.. _pending.GetRange(index, length)], Level);
        _pending.RemoveRange(0, index + length);
        return true;
    }

    private void AddProperties(List<byte> body)
    {
        if (Level == 5)
        {
            body.Add(0); // no properties
        }
    }

    private static byte[] Packet(byte header, List<byte> body)
    {
        var packet = new List<byte>(body.Count + 5) { header };
        AddVariableByteInteger(packet, body.Count);
        packet.AddRange(body);
        return [.. packet];
    }

    private static void AddVariableByteInteger(List<byte> into, int value)
    {
        do
        {
            var b = (byte)(value % 128);
            value /= 128;
            into.Add(value > 0 ? (byte)(b | 0x80) : b);
        }
        while (value > 0);
    }

    private static void AddUInt16(List<byte> into, ushort value)
    {
        into.Add((byte)(value >> 8));
        into.Add((byte)value);
    }

    private static void AddString(List<byte> into, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        AddUInt16(into, (ushort)bytes.Length);
        into.AddRange(bytes);
    }
}

/// <summary>One packet as read: the fixed header's first byte and the body after the remaining length.</summary>
internal readonly record struct RawPacket(byte Header, byte[] Body, int Level)
{
    public PacketType Type => (PacketType)(Header >> 4);

    /// <summary>The packet identifier of an acknowledgement or SUBACK (the first two body bytes).</summary>
    public ushort PacketId => BinaryPrimitives.ReadUInt16BigEndian(Body);

    /// <summary>The reason code of a 5.0 DISCONNECT (0 when the body is empty).</summary>
    public int DisconnectReason => Body.Length == 0 ? 0 : Body[0];

    public int QoS => (Header >> 1) & 3;

    public bool Duplicate => (Header & 0x08) != 0;

    public string Topic => Encoding.UTF8.GetString(Body, 2, BinaryPrimitives.ReadUInt16BigEndian(Body));

    /// <summary>A PUBLISH's packet identifier (after the topic; 0 at QoS 0).</summary>
    public ushort PublishId => QoS == 0 ? (ushort)0 : BinaryPrimitives.ReadUInt16BigEndian(Body.AsSpan(2 + Encoding.UTF8.GetByteCount(Topic)));

    public string Payload
    {
        get
        {
            var offset = 2 + Encoding.UTF8.GetByteCount(Topic) + (QoS > 0 ? 2 : 0);
            if (Level == 5)
            {
                // Skip the properties: a variable byte integer length, then that many bytes.
                int length = 0, multiplier = 1;
                byte b;
                do
                {
                    b = Body[offset++];
                    length += (b & 0x7F) * multiplier;
                    multiplier *= 128;
                }
                while ((b & 0x80) != 0);
                offset += length;
            }

            return Encoding.UTF8.GetString(Body, offset, Body.Length - offset);
        }
    }
}
