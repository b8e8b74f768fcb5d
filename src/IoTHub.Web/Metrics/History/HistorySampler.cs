using IoTHub.Broker.Diagnostics;
using IoTHub.Web.Alarms;
using IoTHub.Web.Mqtt;

namespace IoTHub.Web.Metrics.History;

/// <summary>
/// Takes a sample of the key series of all brokers (summed) into the <see cref="MetricsHistory"/> every
/// <see cref="MetricsHistory.Interval"/>: gauges as they are, counters as rates per second since the
/// previous sample; and checks the conditions of the alarms. It reads the brokers' counters, never touches their hot paths.
/// </summary>
internal sealed class HistorySampler : BackgroundService
{
    private readonly BrokerRegistry _registry;
    private readonly BrokerMetrics _metrics;
    private readonly DeliveryLatencyTally _latency;
    private readonly MetricsHistory _history;
    private readonly TimeProvider _time;
    private readonly AlarmChecks _alarmChecks;
    private readonly AlarmBoard _alarms;
    private readonly Lock _lock = new();
    private readonly double[] _sample = new double[HistorySeries.All.Count];

    // The counters at the previous sample, at the slots of their series (gauges' slots unused).
    private readonly long[] _previous = new long[HistorySeries.All.Count];
    private readonly long[] _current = new long[HistorySeries.All.Count];
    private long _previousTimestamp;

    public HistorySampler(BrokerRegistry registry, BrokerMetrics metrics, DeliveryLatencyTally latency, MetricsHistory history, TimeProvider time,
        AlarmChecks alarmChecks, AlarmBoard alarms)
    {
        (_registry, _metrics, _latency, _history, _time, _alarmChecks, _alarms) = (registry, metrics, latency, history, time, alarmChecks, alarms);
        ReadCounters(_previous);
        _previousTimestamp = time.GetTimestamp();
    }

    /// <summary>Takes a sample and checks the alarms now (the timer calls this; tests may too).</summary>
    public void Sample()
    {
        lock (_lock)
        {
            ReadCounters(_current);
            var now = _time.GetTimestamp();
            var seconds = Math.Max(_time.GetElapsedTime(_previousTimestamp, now).TotalSeconds, 0.001);
            long connections = 0, queued = 0;
            foreach (var broker in _registry.Brokers.Values)
            {
                connections += broker.ConnectionCount;
                queued += BrokerMetrics.QueueDepth(broker);
            }

            _sample[HistorySeries.Connections.Index] = connections;
            _sample[HistorySeries.QueuedMessages.Index] = queued;
            _sample[HistorySeries.DeliveryLatencyP99.Index] = _latency.TakeP99();
            foreach (var series in HistorySeries.All)
            {
                if (IsCounter(series.Index))
                {
                    _sample[series.Index] = (_current[series.Index] - _previous[series.Index]) / seconds;
                }
            }

            var at = _time.GetUtcNow();
            _history.Add(at, _sample);
            _alarms.Update(_alarmChecks.Check(), at);
            Array.Copy(_current, _previous, _current.Length);
            _previousTimestamp = now;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(MetricsHistory.Interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Sample();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }

    private static bool IsCounter(int index) =>
        index != HistorySeries.Connections.Index && index != HistorySeries.QueuedMessages.Index && index != HistorySeries.DeliveryLatencyP99.Index;

    private void ReadCounters(long[] counters)
    {
        Array.Clear(counters);
        counters[HistorySeries.AuthenticationFailures.Index] = _metrics.AdminLoginFailures;
        foreach (var broker in _registry.Brokers.Values)
        {
            var statistics = broker.Statistics;
            counters[HistorySeries.MessagesIn.Index] += statistics.MessagesReceived;
            counters[HistorySeries.MessagesOut.Index] += statistics.MessagesDelivered;
            counters[HistorySeries.BytesIn.Index] += statistics.BytesReceived;
            counters[HistorySeries.BytesOut.Index] += statistics.BytesSent;
            counters[HistorySeries.AuthenticationFailures.Index] += statistics.AuthenticationFailures;
            foreach (var reason in DropReasons.All)
            {
                counters[HistorySeries.FirstDropIndex + (int)reason] += statistics.Dropped(reason);
            }
        }
    }
}
