using System.Net;
using System.Net.Sockets;

namespace IoTHub.Testing;

/// <summary>A loopback port free now, for a server that must be told its port before it starts (it may be taken again in between: rare).</summary>
public static class FreePort
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
