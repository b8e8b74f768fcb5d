using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace IoTHub.Testing;

/// <summary>
/// What crosses the wire on loopback: a packet socket (AF_PACKET, root only) that keeps the payload of every IPv4 TCP
/// segment from or to one of <see cref="Start"/>'s ports, in the order they crossed, to check what a third party on the
/// network would read. Dispose stops it.
/// </summary>
public sealed class LoopbackCapture : IAsyncDisposable
{
    private const int EthernetHeader = 14;
    private const ushort Ipv4 = 0x0800;
    private const byte Tcp = 6;

    private readonly Socket _socket;
    private readonly HashSet<int> _ports;
    private readonly List<(int Source, int Destination, byte[] Payload)> _segments = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reading;

    private LoopbackCapture(IEnumerable<int> ports)
    {
        _ports = [.. ports];
        // ETH_P_ALL (0x0003) in network order: every frame, both directions, in the order they crossed.
        _socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)(ushort)IPAddress.HostToNetworkOrder((short)0x0003));
        _reading = Task.Run(ReadAsync);
    }

    public static LoopbackCapture Start(params IEnumerable<int> ports) => new(ports);

    /// <summary>The payload bytes captured so far from or to one of <paramref name="ports"/>.</summary>
    public long Bytes(params IEnumerable<int> ports)
    {
        var wanted = ports.ToHashSet();
        lock (_segments)
        {
            return _segments.Where(s => wanted.Contains(s.Source) || wanted.Contains(s.Destination)).Sum(static s => (long)s.Payload.Length);
        }
    }

    /// <summary>Whether <paramref name="text"/> (ASCII) appears in one segment's payload from or to one of <paramref name="ports"/>.</summary>
    public bool Saw(string text, params IEnumerable<int> ports)
    {
        var wanted = ports.ToHashSet();
        var bytes = Encoding.ASCII.GetBytes(text);
        lock (_segments)
        {
            return _segments.Any(s => (wanted.Contains(s.Source) || wanted.Contains(s.Destination)) && s.Payload.AsSpan().IndexOf(bytes) >= 0);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _reading;
        }
        catch (OperationCanceledException)
        {
        }

        _socket.Dispose();
        _stop.Dispose();
    }

    private async Task ReadAsync()
    {
        var frame = new byte[65_600];
        while (true)
        {
            var length = await _socket.ReceiveAsync(frame, SocketFlags.None, _stop.Token);
            if (TcpSegment(frame.AsSpan(0, length), out var source, out var destination) is { IsEmpty: false } payload)
            {
                lock (_segments)
                {
                    _segments.Add((source, destination, payload.ToArray()));
                }
            }
        }
    }

    /// <summary>The TCP payload of an Ethernet frame holding IPv4 and TCP from or to one of the ports, and its ports; empty otherwise.</summary>
    private ReadOnlySpan<byte> TcpSegment(ReadOnlySpan<byte> frame, out int source, out int destination)
    {
        source = destination = 0;
        if (frame.Length < EthernetHeader + 20 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != Ipv4)
        {
            return [];
        }

        var ip = frame[EthernetHeader..];
        var ipHeader = (ip[0] & 0x0F) * 4;
        var total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (ip[9] != Tcp || total > ip.Length || ipHeader + 20 > total)
        {
            return [];
        }

        var tcp = ip[ipHeader..total];
        source = BinaryPrimitives.ReadUInt16BigEndian(tcp);
        destination = BinaryPrimitives.ReadUInt16BigEndian(tcp[2..]);
        var tcpHeader = (tcp[12] >> 4) * 4;
        return (_ports.Contains(source) || _ports.Contains(destination)) && tcpHeader <= tcp.Length ? tcp[tcpHeader..] : [];
    }
}
