using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace IoTHub.Web.Transports.Sockets;

/// <summary>
/// Linux: a listening socket that waits for connections in <see cref="ReadinessPoll"/> and accepts with <c>accept4</c> on
/// its descriptor, never through .NET's socket engine (issue 19). .NET's <c>AcceptAsync</c> registers the listener in the
/// engine's epoll set, edge-triggered, so every connection that arrived woke the engine's thread, which handed the accept's
/// completion to the thread pool, which ran Kestrel's accept loop: two hand-offs before Kestrel queued the connection.
/// Here the listener is armed for one event only when an accept found nothing; its event accepts on the poller's thread
/// and Kestrel's loop goes on there, taking every connection that is waiting (each <see cref="AcceptAsync"/> returns at
/// once while one is), until none is and the listener is armed again.
/// </summary>
/// <remarks>
/// Accepted sockets are non-blocking from <c>accept4</c> and have <c>TCP_NODELAY</c> from the listener (Linux copies it
/// to every accepted socket), so a connection costs no <c>fcntl</c> or <c>setsockopt</c>. The descriptor becomes a
/// <see cref="System.Net.Sockets.Socket"/> as .NET's own accept makes one (<see cref="Wrap"/>).
/// </remarks>
internal sealed class PolledListener : IConnectionListener, IReadinessTarget
{
    /// <summary>
    /// Connections accepted in a row before the accept waits for the poller again (its event comes at once while more
    /// wait): with one CPU the poller's thread also reads, and a storm of connects must not hold up every other read.
    /// </summary>
    private const int AcceptsPerTurn = 64;

    private readonly Socket _socket;
    private readonly MemoryPool<byte> _pool;
    private readonly ReadinessPoll _poll;
    private readonly Waiter<ConnectionContext?> _waiter = new();
    private readonly ulong _token;
    private bool _added;
    private int _inARow;

    /// <summary>False once .NET lacks the members <see cref="Wrap"/> uses to make a socket as its accept does.</summary>
    private static bool s_wrapsLikeDotNet = true;

    // 1 while an accept waits for the poller's event; the event and the unbind both take it, whichever comes first.
    private int _armed;

    public PolledListener(Socket socket, MemoryPool<byte> pool, ReadinessPoll poll)
    {
        _socket = socket;
        _pool = pool;
        _poll = poll;
        socket.NoDelay = true;
        LinuxSocketNative.SetNonBlocking(socket.SafeHandle);
        EndPoint = socket.LocalEndPoint!;
        _token = poll.Register(this);
    }

    public EndPoint EndPoint { get; }

    /// <summary>The listening socket (tests look at what .NET keeps for it).</summary>
    internal Socket Socket => _socket;

    /// <summary>Kestrel's accept loop calls this once at a time: a waiting connection at once, else a wait for the next.</summary>
    public ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (++_inARow <= AcceptsPerTurn && TryAccept() is { } accepted)
        {
            return new ValueTask<ConnectionContext?>(accepted.Connection);
        }

        _inARow = 0;
        var waiting = _waiter.Start(static (state, token) => ((PolledListener)state!).CancelWait(token), this, cancellationToken);
        Arm();
        return waiting;
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        Close();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The listener is readable: the waiting accept takes the connection here, and Kestrel's loop goes on on this thread.
    /// An accept that finds nothing after all (the client gave up) waits again.
    /// </summary>
    void IReadinessTarget.Readable(bool inline)
    {
        if (Interlocked.Exchange(ref _armed, 0) == 0)
        {
            return;
        }

        Accepted? accepted;
        try
        {
            accepted = TryAccept();
        }
        catch (Exception ex)
        {
            _waiter.Complete(null, ex, asynchronously: false);
            return;
        }

        if (accepted is { } connection)
        {
            _waiter.Complete(connection.Connection, null, asynchronously: false);
        }
        else
        {
            Arm();
        }
    }

    /// <summary>
    /// One accept that does not wait: a connection, a null connection once the listener is closed, or nothing (null)
    /// when none is waiting. A connection that failed before it was accepted is skipped; other errors throw, as .NET's
    /// accept does.
    /// </summary>
    private Accepted? TryAccept()
    {
        Span<byte> address = stackalloc byte[PeerAddressSize];
        while (true)
        {
            int descriptor;
            SocketError error;
            int length;
            try
            {
                descriptor = LinuxSocketNative.Accept(_socket.SafeHandle, address, out length, out error);
            }
            catch (ObjectDisposedException)
            {
                return new Accepted(null);
            }

            if (descriptor >= 0)
            {
                return new Accepted(new MqttSocketConnection(Wrap(new SafeSocketHandle(descriptor, ownsHandle: true), address[..Math.Min(length, PeerAddressSize)]), _pool));
            }

            switch (error)
            {
                case SocketError.WouldBlock:
                    return null;
                case SocketError.OperationAborted or SocketError.InvalidArgument:
                    // Closed (or no longer listening): no more connections.
                    return new Accepted(null);
                case SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.NetworkDown or SocketError.NetworkUnreachable
                    or SocketError.HostUnreachable or SocketError.TimedOut:
                    // The client gave up, or its network failed, before it was accepted: take the next one.
                    continue;
                default:
                    throw new SocketException((int)error);
            }
        }
    }

    /// <summary>Room for the peer's address: a <c>sockaddr_in6</c>.</summary>
    private const int PeerAddressSize = 28;

    /// <summary>True while accepted sockets are made as .NET's accept makes them (tests).</summary>
    internal static bool WrapsLikeDotNet => s_wrapsLikeDotNet;

    /// <summary>
    /// The accepted descriptor as a <see cref="System.Net.Sockets.Socket"/>, made as .NET's own accept makes one: address
    /// family, type, protocol, blocking mode and (for a listener on one address) the local end point from the listener,
    /// the remote end point from accept4's address, and no system call. The public constructor asks the system for all
    /// of these (seven calls per connection) and keeps one more end point per connection; it is the fallback where .NET no
    /// longer has the members used here.
    /// </summary>
    [SuppressMessage("Usage", "CA1816", Justification = "A socket made half-way must not close the descriptor the fallback's socket owns.")]
    private Socket Wrap(SafeSocketHandle handle, ReadOnlySpan<byte> address)
    {
        if (s_wrapsLikeDotNet)
        {
            Socket? made = null;
            try
            {
                made = NewSocket(handle, loadPropertiesFromHandle: false);
                return UpdateAcceptSocket(_socket, made, PeerEndPoint(address));
            }
            catch (MissingMemberException)
            {
                if (made is not null)
                {
                    // Its finalizer would close the descriptor the fallback's socket owns.
                    GC.SuppressFinalize(made);
                }

                s_wrapsLikeDotNet = false;
            }
        }

        return new Socket(handle);
    }

    /// <summary>An IPv4 or IPv6 <c>sockaddr</c> as an end point; null for anything else (the socket then asks the system).</summary>
    private static IPEndPoint? PeerEndPoint(ReadOnlySpan<byte> address)
    {
        const ushort InterNetwork = 2;
        const ushort InterNetworkV6 = 10;
        if (address.Length < 8)
        {
            return null;
        }

        var port = BinaryPrimitives.ReadUInt16BigEndian(address[2..]);
        return MemoryMarshal.Read<ushort>(address) switch
        {
            InterNetwork => new IPEndPoint(new IPAddress(address.Slice(4, 4)), port),
            InterNetworkV6 when address.Length >= PeerAddressSize =>
                new IPEndPoint(new IPAddress(address.Slice(8, 16), MemoryMarshal.Read<uint>(address[24..])), port),
            _ => null,
        };
    }

    // .NET's own accept: Socket.CreateAcceptSocket, the private constructor then UpdateAcceptSocket.
    [UnsafeAccessor(UnsafeAccessorKind.Constructor)]
    private static extern Socket NewSocket(SafeSocketHandle handle, bool loadPropertiesFromHandle);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "UpdateAcceptSocket")]
    private static extern Socket UpdateAcceptSocket(Socket listener, Socket socket, EndPoint? remoteEndPoint);

    /// <summary>Asks the poller for the listener's next event; a failure ends the waiting accept with it.</summary>
    private void Arm()
    {
        Volatile.Write(ref _armed, 1);
        SocketError error;
        try
        {
            error = _poll.Arm(_socket.SafeHandle, _token, ref _added);
        }
        catch (ObjectDisposedException)
        {
            error = SocketError.OperationAborted;
        }

        if (error != SocketError.Success && Interlocked.Exchange(ref _armed, 0) == 1)
        {
            // Closed meanwhile: the accept loop ends; any other failure is the accept's.
            _waiter.Complete(null, error == SocketError.OperationAborted ? null : new SocketException((int)error), asynchronously: true);
        }
    }

    /// <summary>Closes the listener (which takes it out of the epoll set without an event): a waiting accept ends with no connection.</summary>
    private void Close()
    {
        _socket.Dispose();
        if (Interlocked.Exchange(ref _armed, 0) == 1)
        {
            _waiter.Complete(null, null, asynchronously: true);
        }

        _poll.Free(_token);
    }

    private void CancelWait(CancellationToken token)
    {
        if (Interlocked.Exchange(ref _armed, 0) == 1)
        {
            _waiter.Complete(null, new OperationCanceledException(token), asynchronously: true);
        }
    }

    /// <summary>What an accept gave: a connection, or null once the listener is closed.</summary>
    private readonly record struct Accepted(MqttSocketConnection? Connection);
}
