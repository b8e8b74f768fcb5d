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
/// a pending zero-byte receive), and no buffer, pipe or task (issue 19).
/// Kestrel asks every transport registered whether it binds an address; this one takes <see cref="MqttEndPoint"/>s only,
/// so the HTTP endpoint and Unix socket listeners stay on Kestrel's socket transport.
/// </summary>
internal sealed class MqttSocketTransport(IMemoryPoolFactory<byte> pools) : IConnectionListenerFactory, IConnectionListenerFactorySelector, IDisposable
{
    /// <summary>Kestrel's default for its socket transport.</summary>
    private const int Backlog = 512;

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
