using System.Diagnostics.Metrics;

namespace IoTHub.Web.Metrics.History;

/// <summary>
/// Counts the delivery latencies the brokers record (one per written batch) in the buckets of
/// <see cref="BrokerMetrics.LatencyBuckets"/>, so the history can take their 99th percentile per
/// sample: the cost on the write loop is a bucket search over 16 bounds and one interlocked increment.
/// </summary>
internal sealed class DeliveryLatencyTally : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly long[] _counts = new long[BrokerMetrics.LatencyBuckets.Length + 1];
    private readonly long[] _counted = new long[BrokerMetrics.LatencyBuckets.Length + 1];
    private readonly long[] _inInterval = new long[BrokerMetrics.LatencyBuckets.Length + 1];

    public DeliveryLatencyTally(BrokerMetrics metrics)
    {
        _listener.SetMeasurementEventCallback<double>(static (_, seconds, _, state) => ((DeliveryLatencyTally)state!).Count(seconds));
        _listener.Start();
        _listener.EnableMeasurementEvents(metrics.DeliveryLatency, this);
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>
    /// The 99th percentile, in seconds, of the latencies recorded since the previous call (interpolated in its
    /// bucket, as Prometheus' histogram_quantile does; the highest bound when it is beyond it), or NaN when none was.
    /// Called by one sampler at a time.
    /// </summary>
    public double TakeP99()
    {
        long total = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            var now = Volatile.Read(ref _counts[i]);
            _inInterval[i] = now - _counted[i];
            _counted[i] = now;
            total += _inInterval[i];
        }

        if (total == 0)
        {
            return double.NaN;
        }

        var bounds = BrokerMetrics.LatencyBuckets;
        var rank = 0.99 * total;
        long below = 0;
        for (var i = 0; i < bounds.Length; i++)
        {
            if (below + _inInterval[i] >= rank)
            {
                var lower = i == 0 ? 0 : bounds[i - 1];
                return lower + ((bounds[i] - lower) * (rank - below) / _inInterval[i]);
            }

            below += _inInterval[i];
        }

        return bounds[^1];
    }

    private void Count(double seconds)
    {
        var bucket = Array.BinarySearch(BrokerMetrics.LatencyBuckets, seconds);
        Interlocked.Increment(ref _counts[bucket < 0 ? ~bucket : bucket]);
    }
}
