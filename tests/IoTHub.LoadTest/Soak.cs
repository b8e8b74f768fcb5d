using System.Diagnostics;
using System.Globalization;
using System.Text;
using IoTHub.Mqtt;

namespace IoTHub.LoadTest;

/// <summary>
/// Issue 24's soak (<c>--soak minutes</c>): a fresh broker under a moderate mixed load for a fixed time, every QoS 1/2 message
/// acknowledged to a publisher followed to its subscriber across reconnects and takeovers of persistent sessions, the wills of
/// churning clients counted, retained values checked by re-subscribing, and the broker's RSS and CPU sampled. It fails (exit
/// code 1) when a message or a will is missing, a QoS 2 message came twice, a retained value was stale, or the broker logged a
/// warning or worse. README.md describes the load.
/// </summary>
internal sealed class Soak(BrokerProcess broker, ClientTransport transport, TimeSpan duration)
{
    private const int PayloadSize = 64;
    private const int Qos1Channels = 4;
    private const int Qos1Rate = 200;
    private const int Qos2Channels = 4;
    private const int Qos2Rate = 100;
    private const int Qos0Channels = 2;
    private const int Qos0Rate = 750;
    private const int RetainedTopics = 200;
    private const int RetainedRate = 100;
    private const int ChurnWorkers = 4;

    /// <summary>Every this many session actions (one each <see cref="SessionActionEvery"/>), the action is a takeover.</summary>
    private const int TakeoverEvery = 6;

    private static readonly TimeSpan SessionActionEvery = TimeSpan.FromSeconds(5);

    /// <summary>A persistent subscriber stays away up to this long: its queue (200 msgs/s) stays under the default limit of 1 000.</summary>
    private static readonly TimeSpan LongestOffline = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DrainDeadline = TimeSpan.FromSeconds(60);
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>
    /// The broker's warnings that do not fail the run, each for a reason. ASP.NET Core's data protection (the dashboard's cookies)
    /// makes its key ring on first use in the user's profile (~/.aspnet/DataProtection-Keys, a key lives 90 days) and says the key is
    /// stored unencrypted: once per machine and user, at start, whatever the load.
    /// </summary>
    private static readonly string[] ExpectedWarnings = ["warn: Microsoft.AspNetCore.DataProtection.KeyManagement.XmlKeyManager[35] "];

    private readonly List<string> _failures = [];
    private readonly List<(double Seconds, long Rss, double Cpu)> _samples = [];
    private readonly List<(long Anonymous, long File, long Shared)> _kinds = [];
    private long _connects;
    private long _abruptCloses;
    private long _connectFailures;
    private long _reconnects;
    private long _takeovers;
    private long _subscriptionRounds;

    /// <summary>Runs the soak on each broker of <see cref="Settings.Brokers"/> that speaks MQTT fully (IoTHub, Mosquitto), one after the other.</summary>
    public static async Task<int> RunAsync(Settings settings, Paths paths, string brokerCpu)
    {
        var duration = TimeSpan.FromMinutes(settings.SoakMinutes);
        var results = new List<SoakResult>();
        var started = true;
        Console.WriteLine($"soak, {duration.TotalMinutes:N1} min per broker; load average at start: {Report.LoadAverage()}");
        foreach (var kind in settings.Brokers)
        {
            if (kind is not (BrokerKind.IoTHub or BrokerKind.Mosquitto))
            {
                Console.WriteLine($"{BrokerProcess.Name(kind)}: skipped, the soak runs on IoTHub and Mosquitto");
                continue;
            }

            Console.WriteLine($"{BrokerProcess.Name(kind)}:");
            var startedAt = DateTime.UtcNow;
            SoakResult result;
            BrokerProcess broker;
            try
            {
                broker = await BrokerProcess.StartAsync(kind, paths, brokerCpu, Transport.Tcp, null).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
            {
                // A broker that never said it listens is still running: it must not outlive the tool.
                BrokerProcess.KillAll();
                Console.WriteLine($"  FAILED: {ex.Message}");
                started = false;
                continue;
            }

            await using (broker.ConfigureAwait(false))
            {
                result = await new Soak(broker, new ClientTransport(broker.Port, Transport.Tcp, null, false), duration).RunAsync().ConfigureAwait(false);
            }

            // Read once the broker has stopped: its shutdown is part of the run.
            static bool Expected(string line) => Array.Exists(ExpectedWarnings, warning => line.StartsWith(warning, StringComparison.Ordinal));
            result = result with
            {
                Broker = kind,
                Started = startedAt,
                LoadAverage = Report.LoadAverage(),
                Problems = [.. broker.Problems.Where(line => !Expected(line))],
                ExpectedProblems = [.. broker.Problems.Where(Expected)],
            };
            results.Add(result);
            Console.WriteLine(result.Summary());
        }

        Console.WriteLine(SoakResult.Markdown(results));
        return started && results.TrueForAll(r => r.Passed) ? 0 : 1;
    }

    private async Task<SoakResult> RunAsync()
    {
        var warmup = TimeSpan.FromSeconds(Math.Min(300, duration.TotalSeconds / 10));
        var sampleEvery = TimeSpan.FromSeconds(Math.Clamp(duration.TotalSeconds / 120, 2, 10));

        // Persistent QoS 1 and 2 pairs, QoS 0 pairs, the retained topics and their checker, the wills' watcher, the subscription churner.
        var sessions = new List<SubscriberSession>();
        var ledgers = new List<PublisherLedger>();
        var stable = new List<LoadClient>();
        var publishers = new List<(LoadClient Client, byte[][] Topics, QualityOfService Qos, int Rate, bool Retain)>();
        var qos0Subscribers = new List<LoadClient>();
        var qos0Publishers = new List<LoadClient>();
        var retainedTopics = Enumerable.Range(0, RetainedTopics).Select(i => Encoding.UTF8.GetBytes("soak/retained/" + i.ToString("D3", Invariant))).ToArray();
        var retainedLedger = new PublisherLedger();
        var retainedCheck = new RetainedCheck(retainedTopics);
        var wills = new WillLedger();
        using var stop = new CancellationTokenSource();
        var loops = new List<Task>();
        try
        {
            foreach (var (qos, channels, rate) in new[] { (QualityOfService.AtLeastOnce, Qos1Channels, Qos1Rate), (QualityOfService.ExactlyOnce, Qos2Channels, Qos2Rate) })
            {
                for (var i = 0; i < channels; i++)
                {
                    var name = $"q{(int)qos}/{i}";
                    var session = new SubscriberSession("soak-sub-" + name.Replace('/', '-'), "soak/" + name, qos);
                    session.Client = await ConnectSessionAsync(session).ConfigureAwait(false);
                    await session.Client.SubscribeAsync([session.Topic], qos, Timeout).ConfigureAwait(false);
                    sessions.Add(session);
                    var ledger = new PublisherLedger();
                    ledgers.Add(ledger);
                    var publisher = await ConnectAsync("soak-pub-" + name.Replace('/', '-'), ClientOptions.Default with { Observer = ledger }, stable).ConfigureAwait(false);
                    publishers.Add((publisher, [Encoding.UTF8.GetBytes(session.Topic)], qos, rate, false));
                }
            }

            for (var i = 0; i < Qos0Channels; i++)
            {
                var topic = "soak/q0/" + i.ToString(Invariant);
                var subscriber = await ConnectAsync("soak-sub-q0-" + i.ToString(Invariant), ClientOptions.Default, stable).ConfigureAwait(false);
                await subscriber.SubscribeAsync([topic], QualityOfService.AtMostOnce, Timeout).ConfigureAwait(false);
                qos0Subscribers.Add(subscriber);
                var publisher = await ConnectAsync("soak-pub-q0-" + i.ToString(Invariant), ClientOptions.Default, stable).ConfigureAwait(false);
                qos0Publishers.Add(publisher);
                publishers.Add((publisher, [Encoding.UTF8.GetBytes(topic)], QualityOfService.AtMostOnce, Qos0Rate, false));
            }

            // Every retained topic gets a value before the checker starts, so each round expects all of them.
            var retainedPublisher = await ConnectAsync("soak-pub-retained", ClientOptions.Default with { Observer = retainedLedger }, stable).ConfigureAwait(false);
            var payload = new byte[PayloadSize];
            foreach (var topic in retainedTopics)
            {
                await retainedPublisher.PublishAsync([topic], null, payload, 0, QualityOfService.AtLeastOnce, 1, retain: true).ConfigureAwait(false);
            }

            await retainedPublisher.WaitUntilAcknowledgedAsync(Timeout).ConfigureAwait(false);
            publishers.Add((retainedPublisher, retainedTopics, QualityOfService.AtLeastOnce, RetainedRate, true));
            var checker = await ConnectAsync("soak-retained-check", ClientOptions.Default with { Observer = retainedCheck }, stable).ConfigureAwait(false);
            var willWatcher = await ConnectAsync("soak-wills", ClientOptions.Default with { Observer = wills }, stable).ConfigureAwait(false);
            await willWatcher.SubscribeAsync(["soak/will/#"], QualityOfService.AtLeastOnce, Timeout).ConfigureAwait(false);
            var churner = await ConnectAsync("soak-subscription-churn", ClientOptions.Default, stable).ConfigureAwait(false);

            var cpu = broker.CpuSeconds();
            var clock = Stopwatch.StartNew();
            Sample(clock, ref cpu);
            for (var i = 0; i < publishers.Count; i++)
            {
                var (client, topics, qos, rate, retain) = publishers[i];
                var index = i;
                loops.Add(Guard("publisher " + index.ToString(Invariant), () => PublishLoopAsync(client, topics, qos, rate, retain, index, stop.Token)));
            }

            for (var w = 0; w < ChurnWorkers; w++)
            {
                var worker = w;
                loops.Add(Guard("connect churn", () => ConnectChurnAsync(worker, wills, stop.Token)));
            }

            loops.Add(Guard("sessions", () => SessionChurnAsync(sessions, stop.Token)));
            loops.Add(Guard("retained check", () => RetainedRoundsAsync(checker, retainedCheck, retainedLedger, retainedTopics, stop.Token)));
            loops.Add(Guard("subscription churn", () => SubscriptionChurnAsync(churner, stop.Token)));

            using (var ticks = new PeriodicTimer(sampleEvery))
            {
                while (clock.Elapsed < duration && await ticks.WaitForNextTickAsync().ConfigureAwait(false))
                {
                    Sample(clock, ref cpu);
                    var (expected, received, _, _) = wills.Counts();
                    Console.WriteLine(string.Create(Invariant,
                        $"  {clock.Elapsed.TotalSeconds,6:F0} s  RSS {_samples[^1].Rss / 1048576.0,6:F1} MB  CPU {_samples[^1].Cpu,4:P0}  QoS 1/2 acknowledged {ledgers.Sum(l => l.AcknowledgedCount),9:N0}  connects {Interlocked.Read(ref _connects),7:N0}  wills {received:N0}/{expected:N0}  reconnects {Interlocked.Read(ref _reconnects):N0}  takeovers {Interlocked.Read(ref _takeovers):N0}  retained rounds {retainedCheck.Rounds:N0}  broker log {broker.Problems.Count}"));
                }
            }

            // The end: the load stops, every publisher's last messages are acknowledged, and then every acknowledged message and
            // every will must arrive within the deadline.
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(loops).WaitAsync(Timeout * 2).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _failures.Add("the load did not stop within " + (Timeout * 2).TotalSeconds.ToString(Invariant) + " s");
            }

            foreach (var (client, _, qos, _, _) in publishers)
            {
                if (qos != QualityOfService.AtMostOnce)
                {
                    try
                    {
                        await client.WaitUntilAcknowledgedAsync(Timeout).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // Counted below: their messages are not acknowledged, so nothing is owed for them.
                    }
                }
            }

            var drain = Stopwatch.StartNew();
            while (drain.Elapsed < DrainDeadline && (Missing(sessions, ledgers).Missing > 0 || wills.Counts() is var owed && owed.Received < owed.Expected))
            {
                // A poll against the deadline: the ledgers count from the clients' receive loops and signal nobody.
                await Task.Delay(20).ConfigureAwait(false);
            }

            var drained = drain.Elapsed;
            Sample(clock, ref cpu);
            foreach (var client in stable)
            {
                if (client.Completion.IsCompleted)
                {
                    _failures.Add("a connection that should have stayed open was closed");
                }
            }

            return Result(sessions, ledgers, retainedLedger, retainedCheck, wills, qos0Publishers, qos0Subscribers, warmup, drained, clock.Elapsed);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            foreach (var client in sessions.Select(s => s.Client).Concat(stable))
            {
                if (client is not null)
                {
                    await client.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Runs one of the load's loops; an exception ends it and fails the run.</summary>
    private async Task Guard(string name, Func<Task> loop)
    {
        try
        {
            await loop().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            lock (_failures)
            {
                _failures.Add($"{name}: {ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    private async Task<LoadClient> ConnectAsync(string clientId, ClientOptions options, List<LoadClient> into)
    {
        var client = await LoadClient.ConnectAsync(transport, clientId, [], options).ConfigureAwait(false);
        into.Add(client);
        return client;
    }

    /// <summary>A persistent subscriber's connection: Clean Session 0, its session's observer.</summary>
    private Task<LoadClient> ConnectSessionAsync(SubscriberSession session) =>
        LoadClient.ConnectAsync(transport, session.ClientId, [], ClientOptions.Default with { CleanSession = false, Observer = session });

    /// <summary>Publishes at a fixed rate (<see cref="Pace"/>, no catching up on more than a second), each message with its sequence number.</summary>
    private static async Task PublishLoopAsync(LoadClient client, byte[][] topics, QualityOfService qos, int rate, bool retain, int index, CancellationToken stop)
    {
        var payload = new byte[PayloadSize];
        var random = new Random(index);
        var pace = new Pace(rate, TimeSpan.FromSeconds(1));
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        while (await NextTickAsync(ticks, stop).ConfigureAwait(false))
        {
            var due = pace.Take(LoadClient.InflightLimit);
            if (due > 0)
            {
                await client.PublishAsync(topics, random, payload, index, qos, due, retain, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Clients that connect with a new client id, stay a moment and go: two in three with a will, half of all closing the socket
    /// without DISCONNECT (their will must come) and half sending DISCONNECT (their will must not).
    /// </summary>
    private async Task ConnectChurnAsync(int worker, WillLedger wills, CancellationToken stop)
    {
        var random = new Random(1000 + worker);
        var topic = "soak/will/" + worker.ToString(Invariant);
        while (!stop.IsCancellationRequested)
        {
            var connect = Interlocked.Increment(ref _connects);
            var will = random.Next(3) > 0 ? new WillMessage { Topic = topic, Payload = WillLedger.Payload(connect), QualityOfService = QualityOfService.AtLeastOnce } : null;
            var abrupt = random.Next(2) == 0;
            LoadClient client;
            try
            {
                client = await LoadClient.ConnectAsync(transport, "soak-churn-" + connect.ToString(Invariant), [], ClientOptions.Default with { Will = will },
                    cancellation: CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or TimeoutException or InvalidOperationException or System.Net.Sockets.SocketException)
            {
                Interlocked.Increment(ref _connectFailures);
                continue;
            }

            await Task.Delay(random.Next(20, 200), CancellationToken.None).ConfigureAwait(false);
            if (abrupt)
            {
                if (will is not null)
                {
                    wills.Expect(connect);
                }

                Interlocked.Increment(ref _abruptCloses);
                await client.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await client.DisconnectAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Every <see cref="SessionActionEvery"/>, one persistent subscriber goes away (DISCONNECT or a closed socket, in turn) for up to
    /// <see cref="LongestOffline"/> and comes back to its session; every <see cref="TakeoverEvery"/>th time a second connection with
    /// its client id takes over instead, and the broker must close the first (MQTT-3.1.4-2) and go on on the second.
    /// </summary>
    private async Task SessionChurnAsync(List<SubscriberSession> sessions, CancellationToken stop)
    {
        var random = new Random(7);
        using var ticks = new PeriodicTimer(SessionActionEvery);
        for (var action = 1; await NextTickAsync(ticks, stop).ConfigureAwait(false); action++)
        {
            var session = sessions[random.Next(sessions.Count)];
            var old = session.Client!;
            if (action % TakeoverEvery == 0)
            {
                session.Client = await ConnectSessionAsync(session).ConfigureAwait(false);

                // However the first connection ends (closed, or reset while it acknowledged), only that it ended matters.
                await old.Completion.WaitAsync(Timeout, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (!old.Completion.IsCompleted)
                {
                    lock (_failures)
                    {
                        _failures.Add($"takeover of {session.ClientId}: the first connection was still open after {Timeout.TotalSeconds} s");
                    }
                }

                await old.DisposeAsync().ConfigureAwait(false);
                Interlocked.Increment(ref _takeovers);
                continue;
            }

            if (action % 2 == 0)
            {
                await old.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await old.DisconnectAsync().ConfigureAwait(false);
            }

            // Not cut short by the end of the run: the session must come back for the final count.
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next((int)LongestOffline.TotalMilliseconds)), CancellationToken.None).ConfigureAwait(false);
            session.Client = await ConnectSessionAsync(session).ConfigureAwait(false);
            Interlocked.Increment(ref _reconnects);
        }
    }

    /// <summary>
    /// Subscribes to every retained topic, waits until each has its value (<see cref="RetainedCheck"/>), and subscribes again: each
    /// other round first unsubscribes, the others replace the subscription, which sends the retained messages again too (MQTT-3.8.4-3).
    /// </summary>
    private async Task RetainedRoundsAsync(LoadClient checker, RetainedCheck check, PublisherLedger ledger, byte[][] topics, CancellationToken stop)
    {
        const string Filter = "soak/retained/#";
        var floor = new long[topics.Length];
        using var ticks = new PeriodicTimer(TimeSpan.FromSeconds(1));
        for (var round = 0; await NextTickAsync(ticks, stop).ConfigureAwait(false); round++)
        {
            for (var i = 0; i < topics.Length; i++)
            {
                floor[i] = ledger.NewestAcknowledged(topics[i]);
            }

            var complete = check.StartRound(floor);
            await checker.SubscribeAsync([Filter], QualityOfService.AtLeastOnce, Timeout).ConfigureAwait(false);
            try
            {
                await complete.WaitAsync(Timeout, CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                lock (_failures)
                {
                    _failures.Add($"retained round {check.Rounds}: {check.EndRound()} of {topics.Length} topics had no value after {Timeout.TotalSeconds} s");
                }
            }

            check.EndRound();
            if (round % 2 == 0)
            {
                await checker.UnsubscribeAsync([Filter], Timeout).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Subscribes to a batch of filters (a wildcard over the QoS 0 traffic among them) and unsubscribes, ten times a second.</summary>
    private async Task SubscriptionChurnAsync(LoadClient churner, CancellationToken stop)
    {
        var random = new Random(11);
        var filters = new string[20];
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (await NextTickAsync(ticks, stop).ConfigureAwait(false))
        {
            filters[0] = "soak/q0/+";
            for (var i = 1; i < filters.Length; i++)
            {
                filters[i] = "soak/devices/" + random.Next(10_000).ToString("D5", Invariant) + (i % 2 == 0 ? "/cmd" : "/#");
            }

            await churner.SubscribeAsync(filters, QualityOfService.AtLeastOnce, Timeout).ConfigureAwait(false);
            await churner.UnsubscribeAsync(filters, Timeout).ConfigureAwait(false);
            Interlocked.Increment(ref _subscriptionRounds);
        }
    }

    private static async Task<bool> NextTickAsync(PeriodicTimer ticks, CancellationToken stop)
    {
        try
        {
            return await ticks.WaitForNextTickAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Sample(Stopwatch clock, ref double cpu)
    {
        var seconds = clock.Elapsed.TotalSeconds;
        var nowCpu = broker.CpuSeconds();
        var interval = _samples.Count == 0 ? 0 : seconds - _samples[^1].Seconds;
        _samples.Add((seconds, broker.RssBytes(), interval > 0 ? (nowCpu - cpu) / interval : 0));
        _kinds.Add(broker.RssByKind());
        cpu = nowCpu;
    }

    /// <summary>Acknowledged QoS 1/2 messages: received by their subscriber, missing, and received more than once, per QoS.</summary>
    private static (long Missing, Dictionary<QualityOfService, (long Acknowledged, long Received, long Missing, long Duplicates)> ByQos) Missing(
        List<SubscriberSession> sessions, List<PublisherLedger> ledgers)
    {
        var byQos = new Dictionary<QualityOfService, (long Acknowledged, long Received, long Missing, long Duplicates)>
        {
            [QualityOfService.AtLeastOnce] = default,
            [QualityOfService.ExactlyOnce] = default,
        };
        long missing = 0;
        for (var i = 0; i < sessions.Count; i++)
        {
            var session = sessions[i];
            var (acknowledged, received, lost, duplicates) = byQos[session.Qos];
            ledgers[i].ForEachAcknowledged(sequence =>
            {
                acknowledged++;
                var count = session.CountOf(sequence);
                if (count == 0)
                {
                    lost++;
                }
                else
                {
                    received++;
                    duplicates += count - 1;
                }
            });
            byQos[session.Qos] = (acknowledged, received, lost, duplicates);
            missing += lost;
        }

        return (missing, byQos);
    }

    private SoakResult Result(List<SubscriberSession> sessions, List<PublisherLedger> ledgers, PublisherLedger retainedLedger, RetainedCheck retainedCheck,
        WillLedger wills, List<LoadClient> qos0Publishers, List<LoadClient> qos0Subscribers, TimeSpan warmup, TimeSpan drained, TimeSpan elapsed)
    {
        var (_, byQos) = Missing(sessions, ledgers);
        var (q1, q2) = (byQos[QualityOfService.AtLeastOnce], byQos[QualityOfService.ExactlyOnce]);
        var (willsExpected, willsReceived, willsUnexpected, willsRepeated) = wills.Counts();
        var failures = new List<string>(_failures);
        void Fail(bool failed, string what)
        {
            if (failed)
            {
                failures.Add(what);
            }
        }

        Fail(q1.Missing > 0, $"{q1.Missing:N0} acknowledged QoS 1 messages never arrived");
        Fail(q2.Missing > 0, $"{q2.Missing:N0} acknowledged QoS 2 messages never arrived");
        for (var i = 0; i < sessions.Count; i++)
        {
            var session = sessions[i];
            var (missing, first) = (0L, -1L);
            ledgers[i].ForEachAcknowledged(sequence =>
            {
                if (session.CountOf(sequence) == 0)
                {
                    missing++;
                    first = first < 0 ? sequence : first;
                }
            });
            Fail(missing > 0, $"  {session.ClientId}: {missing:N0} missing, the first of them number {first:N0}");
        }

        Fail(q2.Duplicates > 0, $"{q2.Duplicates:N0} QoS 2 messages arrived twice");
        Fail(willsReceived < willsExpected, $"{willsExpected - willsReceived:N0} wills of clients that closed their socket never came");
        Fail(willsUnexpected > 0, $"{willsUnexpected:N0} wills came from clients that sent DISCONNECT");
        Fail(retainedCheck.Stale + retainedCheck.OlderThanLive > 0, $"{retainedCheck.Stale + retainedCheck.OlderThanLive:N0} stale retained messages");
        Fail(_connectFailures > 0, $"{_connectFailures:N0} churning connects failed");
        var unknownAcks = ledgers.Append(retainedLedger).Sum(l => l.UnknownAcks);
        Fail(unknownAcks > 0, $"{unknownAcks:N0} acknowledgements of no message sent");
        var afterWarmup = _samples.Where(s => s.Seconds >= warmup.TotalSeconds).ToList();
        if (afterWarmup.Count == 0)
        {
            afterWarmup = [_samples[^1]];
        }

        var lastHalf = _samples.Where(s => s.Seconds >= elapsed.TotalSeconds / 2).ToList();

        return new SoakResult
        {
            Duration = elapsed,
            Warmup = warmup,
            Samples = [.. _samples],
            RssAfterWarmup = afterWarmup[0].Rss,
            RssEnd = afterWarmup[^1].Rss,
            RssMin = afterWarmup.Min(s => s.Rss),
            RssMax = afterWarmup.Max(s => s.Rss),
            RssSlopeKbPerMinute = Slope(afterWarmup) * 60 / 1024,
            RssLastHalfSlopeKbPerMinute = Slope(lastHalf) * 60 / 1024,
            RssKindsAfterWarmup = _kinds[_samples.Count - afterWarmup.Count],
            RssKindsEnd = _kinds[^1],
            MeanCpu = _samples.Skip(1).Select(s => s.Cpu).DefaultIfEmpty(0).Average(),
            Qos1 = q1,
            Qos2 = q2,
            Qos2Redeliveries = sessions.Where(s => s.Qos == QualityOfService.ExactlyOnce).Sum(s => s.Redeliveries),
            Unacknowledged = ledgers.Append(retainedLedger).Sum(l => l.Unacknowledged),
            Qos0Published = qos0Publishers.Sum(c => Volatile.Read(ref c.Published)),
            Qos0Received = qos0Subscribers.Sum(c => Volatile.Read(ref c.Received)),
            WillsExpected = willsExpected,
            WillsReceived = willsReceived,
            WillsUnexpected = willsUnexpected,
            WillsRepeated = willsRepeated,
            RetainedUpdates = retainedLedger.AcknowledgedCount,
            RetainedRounds = retainedCheck.Rounds,
            RetainedStale = retainedCheck.Stale + retainedCheck.OlderThanLive,
            RetainedLiveFirst = retainedCheck.LiveFirst,
            Connects = _connects,
            AbruptCloses = _abruptCloses,
            Reconnects = _reconnects,
            Takeovers = _takeovers,
            SubscriptionRounds = _subscriptionRounds,
            Drained = drained,
            Failures = failures,
        };
    }

    /// <summary>Least-squares slope of RSS over time, in bytes per second.</summary>
    private static double Slope(List<(double Seconds, long Rss, double Cpu)> samples)
    {
        if (samples.Count < 2)
        {
            return 0;
        }

        var meanT = samples.Average(s => s.Seconds);
        var meanR = samples.Average(s => (double)s.Rss);
        var covariance = samples.Sum(s => (s.Seconds - meanT) * (s.Rss - meanR));
        var variance = samples.Sum(s => (s.Seconds - meanT) * (s.Seconds - meanT));
        return variance == 0 ? 0 : covariance / variance;
    }
}

/// <summary>What one broker did in the soak, and whether it passed.</summary>
internal sealed record SoakResult
{
    public BrokerKind Broker { get; init; }

    public DateTime Started { get; init; }

    public string LoadAverage { get; init; } = "";

    public TimeSpan Duration { get; init; }

    public TimeSpan Warmup { get; init; }

    public IReadOnlyList<(double Seconds, long Rss, double Cpu)> Samples { get; init; } = [];

    public long RssAfterWarmup { get; init; }

    public double RssLastHalfSlopeKbPerMinute { get; init; }

    public (long Anonymous, long File, long Shared) RssKindsAfterWarmup { get; init; }

    public (long Anonymous, long File, long Shared) RssKindsEnd { get; init; }

    public long RssEnd { get; init; }

    public long RssMin { get; init; }

    public long RssMax { get; init; }

    public double RssSlopeKbPerMinute { get; init; }

    public double MeanCpu { get; init; }

    public (long Acknowledged, long Received, long Missing, long Duplicates) Qos1 { get; init; }

    public (long Acknowledged, long Received, long Missing, long Duplicates) Qos2 { get; init; }

    public long Qos2Redeliveries { get; init; }

    public long Unacknowledged { get; init; }

    public long Qos0Published { get; init; }

    public long Qos0Received { get; init; }

    public int WillsExpected { get; init; }

    public int WillsReceived { get; init; }

    public int WillsUnexpected { get; init; }

    public long WillsRepeated { get; init; }

    public long RetainedUpdates { get; init; }

    public long RetainedRounds { get; init; }

    public long RetainedStale { get; init; }

    public long RetainedLiveFirst { get; init; }

    public long Connects { get; init; }

    public long AbruptCloses { get; init; }

    public long Reconnects { get; init; }

    public long Takeovers { get; init; }

    public long SubscriptionRounds { get; init; }

    public TimeSpan Drained { get; init; }

    public IReadOnlyList<string> Failures { get; init; } = [];

    /// <summary>The broker's lines at warning level or above (and its stderr), but for the expected ones: they fail the run.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];

    /// <summary>The broker's warnings the soak expects (<see cref="Soak"/>'s list, each with its reason).</summary>
    public IReadOnlyList<string> ExpectedProblems { get; init; } = [];

    public bool Passed => Failures.Count == 0 && Problems.Count == 0;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("F1", Invariant);

    private IEnumerable<(string Figure, string Value)> Figures() =>
    [
        ("run", string.Create(Invariant, $"{Started:yyyy-MM-dd HH:mm} UTC, {Duration.TotalMinutes:N1} min, load average at the end {LoadAverage}")),
        ("RSS after warm-up → end", string.Create(Invariant, $"{Mb(RssAfterWarmup)} → {Mb(RssEnd)} MB (warm-up {Warmup.TotalSeconds:N0} s)")),
        ("RSS min / max after warm-up", $"{Mb(RssMin)} / {Mb(RssMax)} MB"),
        ("RSS every tenth of the run", string.Join(", ", Enumerable.Range(0, 11).Select(i => Mb(Samples[(Samples.Count - 1) * i / 10].Rss))) + " MB"),
        ("RSS slope after warm-up", string.Create(Invariant, $"{RssSlopeKbPerMinute:N0} KB/min")),
        ("RSS slope over the last half", string.Create(Invariant, $"{RssLastHalfSlopeKbPerMinute:N0} KB/min")),
        ("RSS anonymous / file / shared, after warm-up → end", $"{Mb(RssKindsAfterWarmup.Anonymous)} / {Mb(RssKindsAfterWarmup.File)} / {Mb(RssKindsAfterWarmup.Shared)} → {Mb(RssKindsEnd.Anonymous)} / {Mb(RssKindsEnd.File)} / {Mb(RssKindsEnd.Shared)} MB"),
        ("broker CPU", string.Create(Invariant, $"{MeanCpu:P0} of a core on average")),
        ("QoS 1", $"acknowledged {Qos1.Acknowledged:N0}, received {Qos1.Received:N0}, duplicates {Qos1.Duplicates:N0}, missing {Qos1.Missing:N0}"),
        ("QoS 2", $"acknowledged {Qos2.Acknowledged:N0}, received {Qos2.Received:N0}, duplicates {Qos2.Duplicates:N0}, missing {Qos2.Missing:N0} ({Qos2Redeliveries:N0} resent before PUBREL)"),
        ("QoS 0", string.Create(Invariant, $"published {Qos0Published:N0}, received {Qos0Received:N0}, lost {Qos0Published - Qos0Received:N0} ({(Qos0Published == 0 ? 0 : (Qos0Published - Qos0Received) / (double)Qos0Published):P2})")),
        ("wills", $"expected {WillsExpected:N0}, received {WillsReceived:N0}, after DISCONNECT {WillsUnexpected:N0}, twice {WillsRepeated:N0}"),
        ("retained", $"{RetainedUpdates:N0} updates, {RetainedRounds:N0} re-subscriptions, stale {RetainedStale:N0}, topics first given a newer live message {RetainedLiveFirst:N0}"),
        ("churn", $"{Connects:N0} connects ({AbruptCloses:N0} closed without DISCONNECT), {Reconnects:N0} session reconnects, {Takeovers:N0} takeovers, {SubscriptionRounds:N0} subscribe/unsubscribe rounds of 20 filters"),
        ("end", string.Create(Invariant, $"{Unacknowledged:N0} messages never acknowledged; everything acknowledged arrived {Drained.TotalSeconds:F1} s after the publishers stopped")),
        ("broker log", (Problems.Count == 0 ? "nothing unexpected at warning or above" : $"{Problems.Count} unexpected lines at warning or above")
            + (ExpectedProblems.Count == 0 ? "" : $" ({ExpectedProblems.Count} expected)")),
        ("verdict", Passed ? "passed" : "FAILED"),
    ];

    public string Summary()
    {
        var text = new StringBuilder();
        text.AppendLine(Invariant, $"soak {BrokerProcess.Name(Broker)}:");
        foreach (var (figure, value) in Figures())
        {
            text.AppendLine(Invariant, $"  {figure,-28} {value}");
        }

        foreach (var line in Problems)
        {
            text.AppendLine("  broker: " + line);
        }

        foreach (var line in ExpectedProblems)
        {
            text.AppendLine("  broker (expected): " + line);
        }

        foreach (var failure in Failures)
        {
            text.AppendLine("  failure: " + failure);
        }

        return text.ToString();
    }

    /// <summary>The brokers side by side, for docs/benchmarks.md.</summary>
    public static string Markdown(IReadOnlyList<SoakResult> results)
    {
        var table = new StringBuilder();
        table.AppendLine("| Figure | " + string.Join(" | ", results.Select(r => BrokerProcess.Name(r.Broker))) + " |");
        table.AppendLine("| --- |" + string.Concat(results.Select(_ => " --- |")));
        var figures = results.Select(r => r.Figures().ToList()).ToList();
        for (var i = 0; i < (figures.Count == 0 ? 0 : figures[0].Count); i++)
        {
            table.AppendLine($"| {figures[0][i].Figure} | " + string.Join(" | ", figures.Select(f => f[i].Value)) + " |");
        }

        return table.ToString();
    }
}
