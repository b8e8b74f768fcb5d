namespace IoTHub.LoadTest;

/// <summary>
/// Closed-loop credit for one publisher: it may be at most <c>window</c> messages ahead of delivery.
/// With a fan-out of N, one credit comes back per N deliveries.
/// </summary>
internal sealed class Flow(int window, int fanout)
{
    private readonly SemaphoreSlim _credits = new(window);
    private long _delivered;

    /// <summary>Times the publisher waited a whole timeout for a credit (a message lost or stuck somewhere).</summary>
    public long Stalls;

    public bool TryTake() => _credits.Wait(0);

    public Task<bool> WaitAsync(TimeSpan timeout) => _credits.WaitAsync(timeout);

    public void OnDelivered()
    {
        if (fanout == 1 || Interlocked.Increment(ref _delivered) % fanout == 0)
        {
            _credits.Release();
        }
    }
}
