namespace IoTHub.Broker.Connections;

/// <summary>
/// Marks a thread that reads and handles packets for many connections in turn: the socket transport's readiness thread
/// when the process has one CPU (issue 19). Work on a connection's read path that can take long, a password hashed on a
/// CONNECT that missed the cache, leaves such a thread for the thread pool, so one client's login does not hold up every
/// other connection's packets.
/// </summary>
public static class SharedReadThread
{
    [ThreadStatic]
    private static bool t_current;

    /// <summary>True on a thread marked by <see cref="MarkCurrent"/>.</summary>
    public static bool IsCurrent => t_current;

    /// <summary>Marks the calling thread for its whole life.</summary>
    public static void MarkCurrent() => t_current = true;
}
