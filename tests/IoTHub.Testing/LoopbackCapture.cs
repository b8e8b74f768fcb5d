using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
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
        AttachFilter(_socket, _ports);
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

    /// <summary>
    /// A classic BPF program (SO_ATTACH_FILTER) that lets through only IPv4 TCP frames from or to one of the ports: the kernel
    /// drops the rest before they reach the socket, so the machine's other loopback traffic (a load test) cannot overflow its queue.
    /// </summary>
    private static void AttachFilter(Socket socket, HashSet<int> ports)
    {
        const ushort LoadHalf = 0x28, LoadByte = 0x30, LoadHeaderLength = 0xb1, LoadHalfIndexed = 0x48, JumpIfEqual = 0x15, JumpIfSet = 0x45, Return = 0x06;
        var drop = 9 + (2 * ports.Count);
        var accept = drop + 1;
        List<(ushort Code, int True, int False, uint Value)> program =
        [
            (LoadHalf, 0, 0, 12), (JumpIfEqual, 2, drop, Ipv4), // EtherType IPv4
            (LoadByte, 0, 0, EthernetHeader + 9), (JumpIfEqual, 4, drop, Tcp),
            (LoadHalf, 0, 0, EthernetHeader + 6), (JumpIfSet, drop, 6, 0x1FFF), // no fragment
            (LoadHeaderLength, 0, 0, EthernetHeader), (LoadHalfIndexed, 0, 0, EthernetHeader), // X: IP header length; A: source port
        ];
        program.AddRange(ports.Select(port => (JumpIfEqual, accept, 0, (uint)port)));
        program.Add((LoadHalfIndexed, 0, 0, EthernetHeader + 2)); // destination port
        program.AddRange(ports.Select(port => (JumpIfEqual, accept, 0, (uint)port)));
        program.Add((Return, 0, 0, 0));
        program.Add((Return, 0, 0, 0x40000));

        // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }: jumps are relative to the next instruction (0: fall through).
        var filter = new byte[program.Count * 8];
        for (var i = 0; i < program.Count; i++)
        {
            var (code, jumpTrue, jumpFalse, value) = program[i];
            var at = filter.AsSpan(i * 8);
            BinaryPrimitives.WriteUInt16LittleEndian(at, code);
            at[2] = (byte)(jumpTrue == 0 ? 0 : jumpTrue - i - 1);
            at[3] = (byte)(jumpFalse == 0 ? 0 : jumpFalse - i - 1);
            BinaryPrimitives.WriteUInt32LittleEndian(at[4..], value);
        }

        // struct sock_fprog { u16 len; struct sock_filter *filter; }; the kernel copies the program.
        var pinned = GCHandle.Alloc(filter, GCHandleType.Pinned);
        try
        {
            var header = new byte[16];
            BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)program.Count);
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), pinned.AddrOfPinnedObject().ToInt64());
            socket.SetRawSocketOption(1 /* SOL_SOCKET */, 26 /* SO_ATTACH_FILTER */, header);
        }
        finally
        {
            pinned.Free();
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
