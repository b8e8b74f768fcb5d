using System.Net.Sockets;

namespace IoTHub.Web.Transports.Sockets;

/// <summary>
/// The non-blocking socket calls of a connection, chosen once for the process. On Linux they are made on the socket's
/// descriptor and readiness is waited for by <see cref="Poll"/>, so a <see cref="Socket"/> makes no SocketAsyncContext
/// (its engine registration, operation queues and locks) until a send has to wait; .NET makes one as soon as a socket is
/// set non-blocking or waited on. Elsewhere, or when epoll cannot be had, they are the socket's own non-blocking calls
/// and a zero-byte receive waits (<see cref="SocketInput"/>).
/// </summary>
internal static class SocketCalls
{
    /// <summary>The readiness poller, or null where the socket's own zero-byte receive waits.</summary>
    public static readonly ReadinessPoll? Poll = OperatingSystem.IsLinux() ? ReadinessPoll.TryStart() : null;

    public static void SetNonBlocking(Socket socket)
    {
        if (Poll is null)
        {
            socket.Blocking = false;
        }
        else
        {
            LinuxSocketNative.SetNonBlocking(socket.SafeHandle);
        }
    }

    /// <summary>One receive that does not wait; throws <see cref="ObjectDisposedException"/> once the socket is closed.</summary>
    public static int Receive(Socket socket, Span<byte> buffer, out SocketError error) =>
        Poll is null ? socket.Receive(buffer, SocketFlags.None, out error) : LinuxSocketNative.Receive(socket.SafeHandle, buffer, out error);

    /// <summary>One send that does not wait; throws <see cref="ObjectDisposedException"/> once the socket is closed.</summary>
    public static int Send(Socket socket, ReadOnlySpan<byte> buffer, out SocketError error) =>
        Poll is null ? socket.Send(buffer, SocketFlags.None, out error) : LinuxSocketNative.Send(socket.SafeHandle, buffer, out error);
}
