using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.LoadTest;

/// <summary>
/// Issue 20's failover time (<c>--failover kill,stop</c>): three IoTHub nodes keeping their sessions in one PostgreSQL database,
/// <see cref="Subscribers"/> persistent subscribers on the second node, and one publisher on the first sending <see cref="Rate"/>
/// msgs/s round their topics, all at QoS 1, then all at QoS 2. The second node is killed (SIGKILL) or frozen (SIGSTOP); each subscriber then
/// connects to the third node with its session (clean session 0), again every <see cref="RetryEvery"/> while refused. The first node
/// adopts the dead node's sessions (<see cref="ClusterNodes"/>), so each subscriber's session moves across nodes twice: the worse case. Measured per
/// subscriber from the signal: its accepted CONNACK and its first message after it (service restored for it); counted: the
/// messages the publisher had acknowledged (PUBACK, PUBCOMP) that never reached their subscriber, duplicates (QoS 1 allows them, QoS 2
/// never: [MQTT-4.3.3-2]), and the
/// publisher's longest wait between two acknowledgements. A frozen node's clients see no close: they give the connection up
/// <see cref="FrozenNoticed"/> after the signal, as a client whose keep-alive ran out would.
/// </summary>
internal static class Failover
{
    private const int Subscribers = 200;
    private const int Rate = 1_000;
    private static readonly TimeSpan RetryEvery = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan FrozenNoticed = TimeSpan.FromSeconds(1.5);
    private static readonly TimeSpan Before = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan After = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(Settings settings, Paths paths, string brokerCpu)
    {
        Console.WriteLine($"failover: {Subscribers} persistent subscribers, {Rate} msgs/s; load average at start: {Report.LoadAverage()}");
        await using var database = new PostgresServer();
        await database.InitializeAsync().ConfigureAwait(false);
        var rows = new List<string>();
        var failed = false;
        foreach (var (signal, qos) in settings.FailoverSignals.SelectMany(signal => new[] { (signal, QualityOfService.AtLeastOnce), (signal, QualityOfService.ExactlyOnce) }))
        {
            for (var run = 1; run <= settings.StartRuns; run++)
            {
                var label = $"{signal} | {(int)qos} | {run}";
                Console.Write($"{signal} QoS {(int)qos} run {run}: ");
                try
                {
                    var result = await RunOnceAsync(paths, brokerCpu, database, signal, qos).ConfigureAwait(false);
                    Console.WriteLine(result.OneLine());
                    rows.Add(result.Row(label));
                    failed |= result.Lost > 0 || result.NotRestored > 0 || (qos == QualityOfService.ExactlyOnce && result.Duplicates > 0);
                }
                catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or IOException or SocketException)
                {
                    Console.WriteLine("failed: " + ex.Message);
                    rows.Add($"| {label} | failed: {ex.Message} | | | | |");
                    failed = true;
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine("| signal | QoS | run | CONNACK p50 / max (s) | first message p50 / max (s) | publisher's longest wait (s) (connections closed under it) | acknowledged lost | duplicates |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        rows.ForEach(Console.WriteLine);
        return failed ? 1 : 0;
    }

    private static async Task<FailoverResult> RunOnceAsync(Paths paths, string brokerCpu, PostgresServer database, string signal, QualityOfService qos)
    {
        await using var cluster = await ClusterNodes.StartAsync(3, paths, brokerCpu, database, sharedStore: true).ConfigureAwait(false);
        var subscribers = new FailoverSubscriber[Subscribers];
        for (var i = 0; i < Subscribers; i++)
        {
            var topic = "failover/" + i.ToString(Invariant);
            subscribers[i] = new FailoverSubscriber(new SubscriberSession("failover-" + i.ToString(Invariant), topic, qos));
            var client = await subscribers[i].ConnectAsync(cluster.ClientsOf(1)).ConfigureAwait(false);
            await client.SubscribeAsync([topic], qos, Timeout).ConfigureAwait(false);
        }

        var ledger = new FailoverPublisher();
        var topics = subscribers.Select(s => Encoding.UTF8.GetBytes(s.Session.Topic)).ToArray();
        using var stop = new CancellationTokenSource();
        var publishing = PublishAsync(cluster.ClientsOf(0), ledger, topics, qos, stop.Token);
        try
        {
            await Task.Delay(Before).ConfigureAwait(false);
            var victim = cluster.Nodes[1];
            var signalled = Stopwatch.StartNew();
            var signalledAt = Stopwatch.GetTimestamp();
            victim.Signal(signal == "kill" ? BrokerProcess.SigKill : BrokerProcess.SigStop);
            if (BrokerProcess.LogFolder is not null)
            {
                // To find the signal in the node logs (--node-logs).
                Console.Write($"(signal at {DateTime.UtcNow:HH:mm:ss.fff} UTC to the node on MQTT port {victim.Port}) ");
            }

            var recoveries = subscribers.Select(s => s.RecoverAsync(cluster.ClientsOf(2), signal == "stop" ? FrozenNoticed : null, signalled)).ToArray();
            await Task.WhenAll(recoveries).ConfigureAwait(false);
            await Task.Delay(After).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await publishing.ConfigureAwait(false);
            if (signal == "stop")
            {
                victim.Signal(BrokerProcess.SigKill);
            }

            var lost = await MissingAsync(ledger.Ledger, subscribers).ConfigureAwait(false);
            if (lost > 0)
            {
                Console.Write(ledger.WhenLost(subscribers, recoveries.Select(r => r.Result.ConnAck).ToArray(), signalledAt) + " ");
            }

            long duplicates = 0;
            ledger.Ledger.ForEachAcknowledged(sequence => duplicates += Math.Max(0, subscribers[sequence % Subscribers].Session.CountOf(sequence) - 1));
            var connAcks = recoveries.Select(r => r.Result.ConnAck).Order().ToArray();
            var firsts = recoveries.Select(r => r.Result.FirstMessage).Where(t => t is not null).Select(t => t!.Value).Order().ToArray();
            return new FailoverResult(connAcks, firsts, Subscribers - firsts.Length, ledger.LongestWait, Volatile.Read(ref ledger.Reconnects),
                ledger.Ledger.AcknowledgedCount, lost, duplicates);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            foreach (var subscriber in subscribers)
            {
                await subscriber.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Sends <see cref="Rate"/> msgs/s, message <c>n</c> (its sequence number) to topic <c>n mod</c> <see cref="Subscribers"/>, until
    /// stopped; then waits until all are acknowledged. A connection the node closes (a message it could not get accepted by another
    /// node is not acknowledged, docs/clustering.md) is made again with the session, and what was not acknowledged is sent again.
    /// </summary>
    private static async Task PublishAsync(ClientTransport node, FailoverPublisher ledger, byte[][] topics, QualityOfService qos, CancellationToken stop)
    {
        var pace = new Pace(Rate);
        var payload = new byte[LoadClient.SequencedPayload];
        var refused = 0;
        while (true)
        {
            LoadClient publisher;
            try
            {
                publisher = await LoadClient.ConnectAsync(node, "failover-publisher", [],
                    new ClientOptions(CleanSession: false, Observer: ledger, FirstSequence: ledger.NextSequence), cancellation: CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException or SocketException or TimeoutException)
            {
                if (++refused * RetryEvery > RecoveryBound)
                {
                    throw new TimeoutException($"the publisher could not connect again within {RecoveryBound.TotalSeconds:N0} s: {ex.Message}");
                }

                await Task.Delay(RetryEvery, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            refused = 0;

            await using (publisher.ConfigureAwait(false))
            {
                using var closed = CancellationTokenSource.CreateLinkedTokenSource(stop);
                _ = publisher.Completion.ContinueWith(static (_, state) => ((CancellationTokenSource)state!).Cancel(), closed, TaskScheduler.Default);
                try
                {
                    await publisher.ResendAsync(ledger.Ledger.Pending(), qos, payload).ConfigureAwait(false);
                    while (!stop.IsCancellationRequested)
                    {
                        var due = pace.Take(LoadClient.InflightLimit);
                        if (due == 0)
                        {
                            await Task.Delay(Pace.Tick, closed.Token).ConfigureAwait(false);
                            continue;
                        }

                        for (var i = 0; i < due; i++)
                        {
                            // Cancelled while waiting for a free slot, it sent nothing: the next connection goes on with the same number.
                            await publisher.PublishAsync([topics[ledger.NextSequence % topics.Length]], null, payload, 0, qos, 1, cancellation: closed.Token)
                                .ConfigureAwait(false);
                        }
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested && !publisher.Completion.IsCompleted)
                {
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or SocketException)
                {
                    Interlocked.Increment(ref ledger.Reconnects);
                    continue;
                }

                try
                {
                    await publisher.WaitUntilAcknowledgedAsync(Timeout).ConfigureAwait(false);
                    return;
                }
                catch (OperationCanceledException) when (!publisher.Completion.IsCompleted)
                {
                    throw new TimeoutException($"the publisher's messages were not all acknowledged within {Timeout.TotalSeconds:N0} s");
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref ledger.Reconnects);
                }
            }
        }
    }

    /// <summary>Acknowledged messages that have not reached their subscriber, after waiting for them up to <see cref="Timeout"/>.</summary>
    private static async Task<long> MissingAsync(PublisherLedger ledger, FailoverSubscriber[] subscribers)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            long missing = 0;
            ledger.ForEachAcknowledged(sequence => missing += subscribers[sequence % subscribers.Length].Session.CountOf(sequence) == 0 ? 1 : 0);
            if (missing == 0 || deadline.Elapsed > Timeout)
            {
                return missing;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        }
    }

    /// <summary>The publisher's ledger, the longest time between two of its acknowledgements, and its connections made again.</summary>
    private sealed class FailoverPublisher : IMessageObserver
    {
        private long _lastAck = Stopwatch.GetTimestamp();
        private long _longestWait;
        private long _nextSequence;

        // When each message was acknowledged (Stopwatch timestamps), by sequence number: where the lost ones fall.
        private readonly Lock _timesLock = new();
        private readonly Dictionary<long, long> _acknowledgedAt = [];

        /// <summary>Connections the node closed under the publisher.</summary>
        public long Reconnects;

        /// <summary>One past the highest sequence number written: the next message's, on this connection or the next.</summary>
        public long NextSequence => Volatile.Read(ref _nextSequence);

        public PublisherLedger Ledger { get; } = new();

        public double LongestWait => Stopwatch.GetElapsedTime(0, Volatile.Read(ref _longestWait)).TotalSeconds;

        public void OnSending(ushort packetId, long sequence, byte[] topic)
        {
            if (sequence >= _nextSequence)
            {
                Volatile.Write(ref _nextSequence, sequence + 1);
            }

            Ledger.OnSending(packetId, sequence, topic);
        }

        /// <summary>
        /// When the acknowledged messages that never reached their subscriber were acknowledged: seconds after the signal, and after
        /// their subscriber's CONNACK on the new node (<paramref name="connAcks"/>, by subscriber), as min / p50 / max.
        /// </summary>
        public string WhenLost(FailoverSubscriber[] subscribers, double[] connAcks, long signalledAt)
        {
            var afterSignal = new List<double>();
            var afterConnAck = new List<double>();
            lock (_timesLock)
            {
                Ledger.ForEachAcknowledged(sequence =>
                {
                    var subscriber = (int)(sequence % subscribers.Length);
                    if (subscribers[subscriber].Session.CountOf(sequence) == 0 && _acknowledgedAt.TryGetValue(sequence, out var at))
                    {
                        var seconds = (at - signalledAt) / (double)Stopwatch.Frequency;
                        afterSignal.Add(seconds);
                        afterConnAck.Add(seconds - connAcks[subscriber]);
                    }
                });
            }

            return $"(lost acknowledged at {Spread(afterSignal)} s after the signal, {Spread(afterConnAck)} s after their subscriber's CONNACK)";
        }

        private static string Spread(List<double> values)
        {
            values.Sort();
            return values.Count == 0 ? "-" : FormattableString.Invariant($"{values[0]:N2} / {values[values.Count / 2]:N2} / {values[^1]:N2}");
        }

        public void OnAcknowledged(ushort packetId)
        {
            var now = Stopwatch.GetTimestamp();
            var wait = now - Interlocked.Exchange(ref _lastAck, now);
            if (wait > Volatile.Read(ref _longestWait))
            {
                Volatile.Write(ref _longestWait, wait);
            }

            var sequence = Ledger.Acknowledge(packetId);
            if (sequence >= 0)
            {
                lock (_timesLock)
                {
                    _acknowledgedAt[sequence] = now;
                }
            }
        }

        public void OnReceived(in PublishPacket publish) => Ledger.OnReceived(publish);

        public void OnReleased(ushort packetId) => Ledger.OnReleased(packetId);
    }

    /// <summary>One subscriber: its session's tally, its connection, and when its first message came after it connected again.</summary>
    private sealed class FailoverSubscriber(SubscriberSession session) : IMessageObserver, IAsyncDisposable
    {
        private readonly TaskCompletionSource _firstAfterReconnect = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _reconnecting;

        public SubscriberSession Session => session;

        public async Task<LoadClient> ConnectAsync(ClientTransport node)
        {
            session.Client = await LoadClient.ConnectAsync(node, session.ClientId, [], new ClientOptions(CleanSession: false, Observer: this)).ConfigureAwait(false);
            return session.Client;
        }

        /// <summary>
        /// Waits until the connection is gone (closed by the node's death, or given up after <paramref name="giveUpAfter"/>), connects
        /// to <paramref name="node"/> until accepted, then waits for a message: the seconds since <paramref name="signalled"/> of each.
        /// </summary>
        public async Task<(double ConnAck, double? FirstMessage)> RecoverAsync(ClientTransport node, TimeSpan? giveUpAfter, Stopwatch signalled)
        {
            var old = session.Client!;
            if (giveUpAfter is { } after)
            {
                await Task.Delay(after).ConfigureAwait(false);
            }
            else
            {
                // However its receive loop ended (closed, reset, or not within the timeout), the client connects again.
                await old.Completion.WaitAsync(Timeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            _reconnecting = true;
            await old.DisposeAsync().ConfigureAwait(false);
            while (true)
            {
                try
                {
                    await ConnectAsync(node).ConfigureAwait(false);
                    break;
                }
                catch (Exception ex) when (ex is InvalidOperationException or IOException or SocketException or TimeoutException && signalled.Elapsed < RecoveryBound)
                {
                    await Task.Delay(RetryEvery).ConfigureAwait(false);
                }
            }

            var connAck = signalled.Elapsed.TotalSeconds;
            try
            {
                await _firstAfterReconnect.Task.WaitAsync(RecoveryBound - signalled.Elapsed).ConfigureAwait(false);
                return (connAck, signalled.Elapsed.TotalSeconds);
            }
            catch (TimeoutException)
            {
                return (connAck, null);
            }
        }

        public void OnReceived(in PublishPacket publish)
        {
            session.OnReceived(publish);
            if (_reconnecting)
            {
                _firstAfterReconnect.TrySetResult();
            }
        }

        public void OnReleased(ushort packetId) => session.OnReleased(packetId);

        public void OnSending(ushort packetId, long sequence, byte[] topic) => session.OnSending(packetId, sequence, topic);

        public void OnAcknowledged(ushort packetId) => session.OnAcknowledged(packetId);

        public ValueTask DisposeAsync() => session.Client?.DisposeAsync() ?? ValueTask.CompletedTask;
    }

    private sealed record FailoverResult(double[] ConnAcks, double[] FirstMessages, int NotRestored, double LongestWait, long PublisherReconnects, long Acknowledged,
        long Lost, long Duplicates)
    {
        public string OneLine() =>
            $"CONNACK p50 {Median(ConnAcks)} s, max {Max(ConnAcks)} s; first message p50 {Median(FirstMessages)} s, max {Max(FirstMessages)} s" +
            (NotRestored > 0 ? $", {NotRestored} subscribers got nothing" : "") +
            $"; publisher's longest wait {LongestWait:N2} s, connected again {PublisherReconnects} times; {Lost} of {Acknowledged} acknowledged lost, {Duplicates} duplicates";

        public string Row(string label) =>
            $"| {label} | {Median(ConnAcks)} / {Max(ConnAcks)} | {Median(FirstMessages)} / {Max(FirstMessages)}" +
            (NotRestored > 0 ? $" ({NotRestored} got nothing)" : "") + $" | {LongestWait:N2} ({PublisherReconnects}) | {Lost} of {Acknowledged} | {Duplicates} |";

        private static string Median(double[] sorted) => sorted.Length == 0 ? "-" : sorted[sorted.Length / 2].ToString("N2", Invariant);

        private static string Max(double[] sorted) => sorted.Length == 0 ? "-" : sorted[^1].ToString("N2", Invariant);
    }
}
