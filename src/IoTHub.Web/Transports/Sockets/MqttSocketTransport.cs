using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace IoTHub.Web.Transports.Sockets;

/// <summary>
/// The address of an MQTT listener (tcp, tls, ws, wss, detect) that <see cref="MqttSocketTransport"/> serves instead of
/// Kestrel's socket transport; Kestrel's connection middleware (limits, PROXY protocol, TLS, HTTP for WebSockets) runs on
/// top as on any transport.
/// </summary>
internal sealed class MqttEndPoint(IPAddress address, int port) : IPEndPoint(address, port);

/// <summary>
/// Kestrel's transport for the MQTT listeners (DESIGN §4): an idle connection costs one <see cref="MqttSocketConnection"/>
/// with its input and output, the socket and its wait for data (on Linux a slot in <see cref="ReadinessPoll"/>, elsewhere
/// a pending zero-byte receive), and no buffer, pipe or task (issue 19). On Linux a connection is accepted only once its
/// client has sent something (<c>TCP_DEFER_ACCEPT</c>).
/// Kestrel asks every transport registered whether it binds an address; this one takes <see cref="MqttEndPoint"/>s only,
/// so the HTTP endpoint and Unix socket listeners stay on Kestrel's socket transport.
/// </summary>
/// <param name="pools">Where the connections' receive blocks come from.</param>
/// <param name="deferAcceptSeconds">
/// <see cref="DeferAcceptSeconds"/> for the listeners of the host; 0 accepts every connection as soon as its handshake is done
/// (the transport's own tests of reading and writing, whose clients connect before they send).
/// </param>
internal sealed class MqttSocketTransport(IMemoryPoolFactory<byte> pools, int deferAcceptSeconds) : IConnectionListenerFactory, IConnectionListenerFactorySelector, IDisposable
{
    /// <summary>Kestrel's default for its socket transport.</summary>
    private const int Backlog = 512;

    /// <summary>
    /// How long the kernel holds a connection whose client has sent nothing yet (Linux, <see cref="LinuxSocketNative.DeferAccept"/>):
    /// until one SYN-ACK retransmission, so a silent client meets the broker's connect timeout about a second later than it
    /// would without the deferral.
    /// </summary>
    internal const int DeferAcceptSeconds = 1;

    public MqttSocketTransport(IMemoryPoolFactory<byte> pools)
        : this(pools, DeferAcceptSeconds)
    {
    }

    private readonly MemoryPool<byte> _pool = pools.Create();

    public bool CanBind(EndPoint endpoint) => endpoint is MqttEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var address = (IPEndPoint)endpoint;
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.Bind(address);
            if (OperatingSystem.IsLinux() && deferAcceptSeconds > 0)
            {
                // A connection is accepted with its first packet there to read (measured in docs/benchmarks.md, issue 19).
                LinuxSocketNative.DeferAccept(socket, deferAcceptSeconds);
            }

            socket.Listen(Backlog);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException(ex.Message, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return ValueTask.FromResult<IConnectionListener>(SocketCalls.Poll is { } poll ? new PolledListener(socket, _pool, poll) : new Listener(socket, _pool));
    }

    public void Dispose() => _pool.Dispose();

    /// <summary>Where there is no <see cref="ReadinessPoll"/>: .NET's accept.</summary>
    private sealed class Listener(Socket socket, MemoryPool<byte> pool) : IConnectionListener
    {
        public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                try
                {
                    var accepted = await socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
                    accepted.NoDelay = true;

                    // Receives and sends are tried without waiting; a receive waits for readiness (SocketCalls), and
                    // only a send the socket cannot take yet waits through the socket's asynchronous operations.
                    SocketCalls.SetNonBlocking(accepted);
                    return new MqttSocketConnection(accepted, pool);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
                {
                    // The client gave up before it was accepted: take the next one.
                }
                catch (Exception ex) when (ex is ObjectDisposedException or SocketException { SocketErrorCode: SocketError.OperationAborted })
                {
                    // Unbound: no more connections.
                    return null;
                }
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
