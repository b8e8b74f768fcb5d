using System.Net;
using System.Net.Sockets;

namespace IoTHub.LoadTest;

/// <summary>
/// The loopback source addresses the connect scenarios spread their connects over. Each closed connection leaves a socket in
/// TIME_WAIT for 60 s, and one source address has 28 232 ephemeral ports towards the broker's port: at thousands of connects a
/// second a warm-up of tens of seconds needs more than one address has. The kernel picks the port at connect time for the
/// whole four-tuple (<c>IP_BIND_ADDRESS_NO_PORT</c>), so every address has a port range of its own. All of 127.0.0.0/8 is
/// loopback on Linux, and the brokers listen on 127.0.0.1 alone.
/// </summary>
internal static class ConnectSource
{
    /// <summary>Addresses 127.0.0.2 to 127.0.0.201: at 20 000 connects a second, 6 000 ports each in TIME_WAIT at most.</summary>
    private const int Count = 200;

    private const int SolIp = 0;
    private const int IpBindAddressNoPort = 24;

    /// <summary>The option's value, 1 (on): made once, as the tool's own core sets the connect rate.</summary>
    private static readonly byte[] On = BitConverter.GetBytes(1);

    private static readonly IPAddress[] Addresses = [.. Enumerable.Range(2, Count).Select(last => new IPAddress(new byte[] { 127, 0, 0, (byte)last }))];

    /// <summary>The address of the <paramref name="i"/>th connect.</summary>
    public static IPAddress For(int i) => Addresses[i % Count];

    /// <summary>Binds <paramref name="socket"/> to <paramref name="source"/> before it connects, the port left to the connect.</summary>
    public static void Bind(Socket socket, IPAddress source)
    {
        socket.SetRawSocketOption(SolIp, IpBindAddressNoPort, On);
        socket.Bind(new IPEndPoint(source, 0));
    }
}
