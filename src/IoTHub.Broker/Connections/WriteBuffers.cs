namespace IoTHub.Broker.Connections;

/// <summary>
/// One spare collection of a kind per thread, for the write rounds: a round takes one when it starts and gives it back
/// when its connection has nothing more to write, so buffers belong to the rounds running, not to every connection.
/// </summary>
internal static class WriteBuffers<T>
    where T : class
{
    [ThreadStatic]
    private static T? t_spare;

    public static T? Take()
    {
        var spare = t_spare;
        t_spare = null;
        return spare;
    }

    /// <summary>Keeps <paramref name="buffer"/> (emptied by the caller) for the next round on this thread.</summary>
    public static void Return(T buffer) => t_spare ??= buffer;
}
