using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace IoTHub.Web.Transports.Sockets;

/// <summary>
/// The libc calls of the Linux socket path (<see cref="SocketCalls"/>, <see cref="ReadinessPoll"/>): a socket's
/// non-blocking flag, receive and send on its descriptor, and epoll. A <see cref="SafeHandle"/> passed to a call is held
/// (DangerousAddRef) for the call's length, so its descriptor cannot be closed and reused under it; a handle already
/// closed throws <see cref="ObjectDisposedException"/>.
/// </summary>
internal static class LinuxSocketNative
{
    public const int EpollIn = 0x1;
    public const int EpollOneShot = 1 << 30;
    public const int EpollAdd = 1;
    public const int EpollModify = 3;
    public const int EpollCloseOnExec = 0x80000;

    public const int Interrupted = 4;
    public const int Exists = 17;
    public const int NoEntry = 2;

    private const int IpProtocolTcp = 6;
    private const int TcpDeferAccept = 9;
    private const int GetFlags = 3;
    private const int SetFlags = 4;
    private const int NonBlock = 0x800;
    private const int NoSignal = 0x4000;
    private const int SocketCloseOnExec = 0x80000;

    /// <summary>
    /// <c>struct epoll_event</c>: 32-bit events then 64-bit data, packed (12 bytes) on x86 and x86-64, naturally aligned
    /// (16 bytes) on the other architectures.
    /// </summary>
    public static readonly int EventSize = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 12 : 16;

    /// <summary>Where the data of an <c>epoll_event</c> starts.</summary>
    public static readonly int EventDataOffset = EventSize - sizeof(ulong);

    /// <summary>
    /// Sets <c>TCP_DEFER_ACCEPT</c> on a listening socket: the kernel completes the handshake as always, but hands the
    /// connection to <c>accept</c> only once its first bytes have come (or, for a client that stays silent, after about
    /// <paramref name="seconds"/>, when a retransmitted SYN-ACK is answered). Every protocol on an MQTT listener has the
    /// client speak first (CONNECT, a TLS ClientHello, an HTTP upgrade, a PROXY header), so the accepted connection's first
    /// receive finds its first packet instead of waiting in epoll for it.
    /// </summary>
    public static void DeferAccept(Socket listener, int seconds)
    {
        Span<byte> value = stackalloc byte[sizeof(int)];
        MemoryMarshal.Write(value, seconds);
        listener.SetRawSocketOption(IpProtocolTcp, TcpDeferAccept, value);
    }

    /// <summary>Sets O_NONBLOCK on the descriptor itself, as <see cref="Socket.Blocking"/> would only with a SocketAsyncContext.</summary>
    public static void SetNonBlocking(SafeHandle socket)
    {
        var flags = fcntl(socket, GetFlags, 0);
        if (flags < 0 || fcntl(socket, SetFlags, flags | NonBlock) < 0)
        {
            throw new SocketException((int)ToSocketError(Marshal.GetLastPInvokeError()));
        }
    }

    /// <summary>
    /// One non-blocking accept on a listening socket set non-blocking: the new socket's descriptor, itself non-blocking and
    /// closed on exec (accept4 sets both, where .NET's accept and <see cref="SetNonBlocking"/> took three calls), with the
    /// peer's address in <paramref name="address"/> (<paramref name="addressLength"/> bytes of it); or -1 with the error.
    /// </summary>
    public static int Accept(SafeHandle listener, Span<byte> address, out int addressLength, out SocketError error)
    {
        int accepted;
        do
        {
            addressLength = address.Length;
            accepted = accept4(listener, ref MemoryMarshal.GetReference(address), ref addressLength, NonBlock | SocketCloseOnExec);
        }
        while (accepted < 0 && Marshal.GetLastPInvokeError() == Interrupted);

        error = accepted < 0 ? ToSocketError(Marshal.GetLastPInvokeError()) : SocketError.Success;
        return accepted;
    }

    /// <summary>One non-blocking receive: the bytes received (0 at the end), or 0 with the error.</summary>
    public static int Receive(SafeHandle socket, Span<byte> buffer, out SocketError error)
    {
        nint received;
        do
        {
            received = recv(socket, ref MemoryMarshal.GetReference(buffer), buffer.Length, 0);
        }
        while (received < 0 && Marshal.GetLastPInvokeError() == Interrupted);

        return Result(received, out error);
    }

    /// <summary>One non-blocking send (no SIGPIPE): the bytes the socket took, or 0 with the error.</summary>
    public static int Send(SafeHandle socket, ReadOnlySpan<byte> buffer, out SocketError error)
    {
        nint sent;
        do
        {
            sent = send(socket, in MemoryMarshal.GetReference(buffer), buffer.Length, NoSignal);
        }
        while (sent < 0 && Marshal.GetLastPInvokeError() == Interrupted);

        return Result(sent, out error);
    }

    /// <summary>The socket error for an errno of a socket call (Linux numbers, the same on every architecture .NET runs on).</summary>
    public static SocketError ToSocketError(int errno) => errno switch
    {
        11 => SocketError.WouldBlock,
        9 => SocketError.OperationAborted,
        22 => SocketError.InvalidArgument,
        23 or 24 => SocketError.TooManyOpenSockets,
        32 => SocketError.Shutdown,
        100 => SocketError.NetworkDown,
        101 => SocketError.NetworkUnreachable,
        102 => SocketError.NetworkReset,
        103 => SocketError.ConnectionAborted,
        104 => SocketError.ConnectionReset,
        107 => SocketError.NotConnected,
        110 => SocketError.TimedOut,
        113 => SocketError.HostUnreachable,
        _ => SocketError.SocketError,
    };

    private static int Result(nint transferred, out SocketError error)
    {
        error = transferred < 0 ? ToSocketError(Marshal.GetLastPInvokeError()) : SocketError.Success;
        return transferred < 0 ? 0 : (int)transferred;
    }

    [DllImport("libc", SetLastError = true)]
    public static extern int epoll_create1(int flags);

    [DllImport("libc", SetLastError = true)]
    public static extern int epoll_ctl(int epoll, int operation, SafeHandle socket, ref byte eventData);

    [DllImport("libc", SetLastError = true)]
    public static extern int epoll_wait(int epoll, [Out] byte[] events, int maxEvents, int timeout);

    // fcntl is variadic; its third argument is an int, passed as a fixed one the same way on x86-64 and arm64.
    [DllImport("libc", SetLastError = true)]
    private static extern int fcntl(SafeHandle socket, int command, int argument);

    [DllImport("libc", SetLastError = true)]
    private static extern int accept4(SafeHandle socket, ref byte address, ref int addressLength, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern nint recv(SafeHandle socket, ref byte buffer, nint length, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern nint send(SafeHandle socket, in byte buffer, nint length, int flags);
}
