using System.Globalization;

namespace IoTHub.LoadTest;

/// <summary>The kernel's table of TCP sockets (/proc/net/tcp and tcp6), read without any tool.</summary>
internal static class TcpTable
{
    public const int TimeWait = 0x06;

    /// <summary>The states a broker's end of a connection may be in, by their number in /proc/net/tcp.</summary>
    private static readonly string[] StateNames =
        ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"];

    /// <summary>Every socket: its local and remote port, its state and the bytes it has not yet had acknowledged by the peer.</summary>
    public static IEnumerable<TcpSocket> Sockets() => Sockets("/proc/net/tcp").Concat(Sockets("/proc/net/tcp6"));

    /// <summary>The socket with these ports, or null when there is none (closed and gone).</summary>
    public static TcpSocket? Find(int localPort, int remotePort) =>
        Sockets().FirstOrDefault(s => s.LocalPort == localPort && s.RemotePort == remotePort);

    public static string StateName(int state) => state < StateNames.Length ? StateNames[state] : "?";

    private static IEnumerable<TcpSocket> Sockets(string table)
    {
        if (!File.Exists(table))
        {
            yield break;
        }

        // Each line after the header: "sl local_address rem_address st tx_queue:rx_queue ...", addresses as
        // hex "ADDRESS:PORT", st in hex.
        foreach (var line in File.ReadLines(table).Skip(1))
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 4)
            {
                yield return new TcpSocket(Port(fields[1]), Port(fields[2]), Hex(fields[3]), Hex(fields[4].Split(':')[0]));
            }
        }
    }

    private static int Port(string address) => (int)Hex(address[(address.LastIndexOf(':') + 1)..]);

    private static long Hex(string text) => long.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}

/// <summary>One row of <see cref="TcpTable"/>; <paramref name="SendQueue"/> is the bytes sent and not yet acknowledged.</summary>
internal sealed record TcpSocket(int LocalPort, int RemotePort, long State, long SendQueue)
{
    public string StateName => TcpTable.StateName((int)State);
}
