using IoTHub.Broker;
using IoTHub.Web.Mqtt;

namespace IoTHub.Web.Dashboard.Live;

/// <summary>One point of the overview's charts.</summary>
/// <param name="At">When it was taken.</param>
/// <param name="Connections">Open connections of all brokers.</param>
/// <param name="ReceivedPerSecond">PUBLISH packets received from clients per second since the previous point.</param>
/// <param name="DeliveredPerSecond">Messages handed to subscribers per second since the previous point.</param>
internal sealed record TrafficSample(DateTimeOffset At, int Connections, double ReceivedPerSecond, double DeliveredPerSecond);

/// <summary>A client that connected or whose connection ended, with why it ended (<see cref="ClientConnectionEventArgs.Reason"/>).</summary>
internal sealed record ClientActivity(DateTimeOffset At, string Broker, string ClientId, string Endpoint, bool Connected, string? Reason = null);

/// <summary>
/// What the dashboard's circuits watch, fed by the brokers themselves: their client connection events,
/// and their statistics counters sampled once per <see cref="SampleInterval"/> by one timer for all
/// circuits. Circuits subscribe to <see cref="ClientsChanged"/> and <see cref="Sampled"/>; handlers
/// run on the broker's connect path or the timer and must only hand the work to their circuit.
/// </summary>
internal sealed class DashboardFeed : BackgroundService
{
    public const int SampleCount = 60;
    /// <summary>Connects and disconnects kept for the overview's activity feed, which filters and folds them.</summary>
    public const int ActivityCount = 200;
    public static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(1);

    private readonly BrokerRegistry _registry;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Queue<TrafficSample> _samples = new(SampleCount);
    private readonly Queue<ClientActivity> _activity = new(ActivityCount);
    private readonly List<(MqttBroker Broker, EventHandler<ClientConnectionEventArgs> Handler)> _subscriptions = [];

    public DashboardFeed(BrokerRegistry registry, TimeProvider time)
    {
        _registry = registry;
        _time = time;
        foreach (var (name, broker) in registry.Brokers)
        {
            EventHandler<ClientConnectionEventArgs> handler = (_, e) => OnClientConnectionChanged(name, e);
            broker.ClientConnectionChanged += handler;
            _subscriptions.Add((broker, handler));
        }
    }

    /// <summary>A client connected or disconnected.</summary>
    public event Action? ClientsChanged;

    /// <summary>A new sample was taken.</summary>
    public event Action? Sampled;

    /// <summary>The last <see cref="SampleCount"/> samples, oldest first.</summary>
    public IReadOnlyList<TrafficSample> Samples
    {
        get
        {
            lock (_lock)
            {
                return [.. _samples];
            }
        }
    }

    /// <summary>The last <see cref="ActivityCount"/> connects and disconnects, newest first.</summary>
    public IReadOnlyList<ClientActivity> RecentActivity
    {
        get
        {
            lock (_lock)
            {
                return [.. _activity.Reverse()];
            }
        }
    }

    public override void Dispose()
    {
        foreach (var (broker, handler) in _subscriptions)
        {
            broker.ClientConnectionChanged -= handler;
        }

        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SampleInterval, _time);
        var (received, delivered) = Totals();
        var last = _time.GetTimestamp();
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var (nowReceived, nowDelivered) = Totals();
                var now = _time.GetTimestamp();
                var seconds = Math.Max(_time.GetElapsedTime(last, now).TotalSeconds, 0.001);
                var connections = 0;
                foreach (var broker in _registry.Brokers.Values)
                {
                    connections += broker.ConnectionCount;
                }

                Add(_samples, SampleCount, new TrafficSample(_time.GetUtcNow(), connections, (nowReceived - received) / seconds, (nowDelivered - delivered) / seconds));
                (received, delivered, last) = (nowReceived, nowDelivered, now);
                Sampled?.Invoke();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }

    private (long Received, long Delivered) Totals()
    {
        long received = 0, delivered = 0;
        foreach (var broker in _registry.Brokers.Values)
        {
            received += broker.Statistics.MessagesReceived;
            delivered += broker.Statistics.MessagesDelivered;
        }

        return (received, delivered);
    }

    private void OnClientConnectionChanged(string broker, ClientConnectionEventArgs e)
    {
        Add(_activity, ActivityCount, new ClientActivity(_time.GetUtcNow(), broker, e.ClientId, e.Endpoint, e.Connected, e.Reason));
        ClientsChanged?.Invoke();
    }

    private void Add<T>(Queue<T> queue, int capacity, T item)
    {
        lock (_lock)
        {
            if (queue.Count == capacity)
            {
                queue.Dequeue();
            }

            queue.Enqueue(item);
        }
    }
}
