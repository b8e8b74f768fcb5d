using System.Diagnostics;

namespace IoTHub.LoadTest;

/// <summary>
/// Sockets in TIME_WAIT, which each closed connection leaves for 60 s. The idle scenario opens 10 000
/// connections per broker, and with more TIME_WAIT sockets than ephemeral ports (28 232 here) each new
/// connect() searches longer for a free port: measured after the four idle runs, connect-rate fell from
/// about 6 500 to 3 300 connects/s with the broker's CPU per connect unchanged. The idle scenarios, which
/// connect from 127.0.0.1, wait for the count to fall first; the connect scenarios spread their connects
/// over source addresses of their own instead (<see cref="ConnectSource"/>).
/// </summary>
internal static class TimeWait
{
    private const int Limit = 5_000;
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(75);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    /// <summary>Waits until fewer than <see cref="Limit"/> sockets are in TIME_WAIT, at most 75 s (they last 60 s).</summary>
    public static async Task WaitUntilFewAsync()
    {
        var clock = Stopwatch.StartNew();
        while (Count() >= Limit && clock.Elapsed < MaxWait)
        {
            await Task.Delay(Poll).ConfigureAwait(false);
        }
    }

    private static int Count() => TcpTable.Sockets().Count(s => s.State == TcpTable.TimeWait);
}
