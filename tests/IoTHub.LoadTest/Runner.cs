using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using IoTHub.Mqtt;

namespace IoTHub.LoadTest;

/// <summary>
/// Runs one scenario against one running broker, its clients over <paramref name="transport"/>. Every phase is bounded in count and time.
/// With <paramref name="accessRules"/> the broker reads an acl_file (<see cref="AccessRules"/>): the check that it enforces it comes
/// first, and the point-to-point clients connect with the user names the rules name. With <paramref name="cluster"/> (a scenario of several
/// nodes; <paramref name="broker"/> is then its first node) the clients connect to the nodes the scenario puts them on, and CPU and RSS
/// are every node's together.
/// </summary>
internal sealed partial class Runner(BrokerProcess broker, ClientTransport transport, Settings settings, Credentials? credentials = null, bool accessRules = false,
    ClusterNodes? cluster = null)
{
    private static readonly TimeSpan SetupTimeout = TimeSpan.FromSeconds(120);

    /// <summary>Idle clients ask for a keep-alive of 600 s, as devices do (issue 14, defect 8), so the broker's keep-alive check runs for them.</summary>
    private static readonly ClientOptions IdleClient = new(KeepAlive: 600);
    private static readonly TimeSpan CreditTimeout = TimeSpan.FromSeconds(1);

    public Task<Result> RunAsync(Scenario scenario) => scenario.Kind switch
    {
        ScenarioKind.Throughput => ThroughputAsync(scenario),
        ScenarioKind.Latency => LatencyAsync(scenario),
        ScenarioKind.Idle => IdleAsync(scenario),
        ScenarioKind.OpenLoop => OpenLoopAsync(scenario),
        _ => ConnectRateAsync(scenario),
    };

    /// <summary>The client id of the <paramref name="i"/>th publisher.</summary>
    public static string PublisherId(int i) => Id("pub-", i);

    /// <summary>The client id of the <paramref name="i"/>th subscriber.</summary>
    public static string SubscriberId(int i) => Id("sub-", i);

    /// <summary>The topic of the <paramref name="i"/>th point-to-point pair.</summary>
    public static string PointToPointTopic(int i) => Id("load/p2p/", i);

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static string Id(string prefix, int i) => prefix + i.ToString(CultureInfo.InvariantCulture);

    private async Task<Result> ThroughputAsync(Scenario scenario)
    {
        var fanout = scenario.Topology == Topology.FanOut ? scenario.Subscribers : 1;
        var flows = new Flow[scenario.Publishers];
        for (var i = 0; i < flows.Length; i++)
        {
            flows[i] = new Flow(settings.Window, fanout);
        }

        // Filters per subscriber and topics per publisher.
        var filters = new List<string>[scenario.Subscribers];
        var topics = new byte[scenario.Publishers][][];
        switch (scenario.Topology)
        {
            case Topology.PointToPoint:
                for (var i = 0; i < scenario.Subscribers; i++)
                {
                    filters[i] = [PointToPointTopic(i)];
                    topics[i] = [Utf8(PointToPointTopic(i))];
                }

                break;
            case Topology.FanOut:
                for (var i = 0; i < scenario.Subscribers; i++)
                {
                    filters[i] = ["load/fanout"];
                }

                topics[0] = [Utf8("load/fanout")];
                break;
            case Topology.FanIn:
                filters[0] = ["load/fanin"];
                for (var i = 0; i < scenario.Publishers; i++)
                {
                    topics[i] = [Utf8("load/fanin")];
                }

                break;
            default:
                var devices = new byte[scenario.Devices][];
                for (var i = 0; i < scenario.Subscribers; i++)
                {
                    filters[i] = [];
                }

                for (var d = 0; d < scenario.Devices; d++)
                {
                    var topic = "devices/" + d.ToString("D6", CultureInfo.InvariantCulture) + "/cmd";
                    devices[d] = Utf8(topic);
                    filters[d % scenario.Subscribers].Add(topic);
                }

                for (var i = 0; i < scenario.Publishers; i++)
                {
                    topics[i] = devices;
                }

                break;
        }

        if (accessRules)
        {
            await AccessRules.VerifyEnforcedAsync(transport).ConfigureAwait(false);
        }

        var subscribers = new LoadClient[scenario.Subscribers];
        var publishers = new LoadClient[scenario.Publishers];
        try
        {
            await ForEachAsync(scenario.Subscribers, 50, async i =>
            {
                subscribers[i] = await LoadClient.ConnectAsync(SubscriberTransport(scenario, i), SubscriberId(i), flows, ClientOptionsOf(SubscriberId(i))).ConfigureAwait(false);
                await subscribers[i].SubscribeAsync(filters[i], scenario.Qos, SetupTimeout).ConfigureAwait(false);
            }).WaitAsync(SetupTimeout).ConfigureAwait(false);
            await ForEachAsync(scenario.Publishers, 50, async i =>
                publishers[i] = await LoadClient.ConnectAsync(PublisherTransport, PublisherId(i), [], ClientOptionsOf(PublisherId(i))).ConfigureAwait(false)).WaitAsync(SetupTimeout).ConfigureAwait(false);
            if (cluster is not null)
            {
                await UntilRoutedAsync(publishers[0], subscribers, filters).ConfigureAwait(false);
            }

            using var stop = new CancellationTokenSource();
            var pace = scenario.Rate > 0 ? new Pace(scenario.Rate) : null;
            var loops = new Task[scenario.Publishers];
            for (var i = 0; i < loops.Length; i++)
            {
                var index = i;
                loops[i] = Task.Run(() => PublishLoopAsync(publishers[index], flows[index], pace, index, topics[index], scenario, stop.Token));
            }

            var measured = await MeasureAsync(subscribers).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            long stalls = 0;
            foreach (var flow in flows)
            {
                stalls += flow.Stalls;
            }

            return measured with { Scenario = scenario, Stalls = stalls };
        }
        finally
        {
            await CloseAllAsync(publishers).ConfigureAwait(false);
            await CloseAllAsync(subscribers).ConfigureAwait(false);
        }
    }

    /// <summary>Where publishers connect: the broker, or a cluster's first node.</summary>
    private ClientTransport PublisherTransport => cluster?.ClientsOf(0) ?? transport;

    /// <summary>Where subscriber <paramref name="i"/> connects: the broker, or the cluster node the scenario puts it on.</summary>
    private ClientTransport SubscriberTransport(Scenario scenario, int i) => cluster?.ClientsOf(scenario.SubscriberNode(i)) ?? transport;

    /// <summary>
    /// A subscription on one cluster node reaches the others with its node's next filter batch: until then a message published on
    /// another node does not reach it, and the closed loop would lose its first window of credits. Publishes a probe (of no flow, so it
    /// returns no credit) to each subscriber's first filter every 100 ms until each has one.
    /// </summary>
    private static async Task UntilRoutedAsync(LoadClient publisher, LoadClient[] subscribers, List<string>[] filters)
    {
        var probe = new byte[LoadClient.PayloadHeader];
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var waiting = Enumerable.Range(0, subscribers.Length).Where(i => Volatile.Read(ref subscribers[i].Received) == 0)
                .Select(i => filters[i][0]).Distinct(StringComparer.Ordinal).Select(Utf8).ToArray();
            if (waiting.Length == 0)
            {
                return;
            }

            if (clock.Elapsed > SetupTimeout)
            {
                throw new TimeoutException($"{waiting.Length} subscriptions were not routed from the publishers' node within {SetupTimeout.TotalSeconds:N0} s");
            }

            foreach (var topic in waiting)
            {
                await publisher.PublishAsync([topic], null, probe, flowIndex: -1, QualityOfService.AtMostOnce, 1).ConfigureAwait(false);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        }
    }

    /// <summary>The broker's CPU seconds, or every cluster node's.</summary>
    private double BrokerCpuSeconds() => cluster?.CpuSeconds() ?? broker.CpuSeconds();

    /// <summary>A throughput client's options: with the access rules, the user name they name it by.</summary>
    private ClientOptions ClientOptionsOf(string clientId) =>
        accessRules ? ClientOptions.Default with { UserName = AccessRules.UserName(clientId) } : ClientOptions.Default;

    /// <summary>
    /// Publishes in batches as credits come back; with a <paramref name="pace"/>, also no faster than the
    /// scenario's fixed rate (the credits still bound how far ahead of delivery it may run).
    /// </summary>
    private static async Task PublishLoopAsync(LoadClient client, Flow flow, Pace? pace, int index, byte[][] topics, Scenario scenario, CancellationToken stop)
    {
        const int Batch = 32;
        var payload = new byte[Math.Max(scenario.PayloadSize, LoadClient.PayloadHeader)];
        var random = topics.Length > 1 ? new Random(index) : null;
        using var ticks = pace is null ? null : new PeriodicTimer(Pace.Tick);
        while (!stop.IsCancellationRequested)
        {
            var allowed = pace?.Take(Batch) ?? Batch;
            if (allowed == 0)
            {
                if (!await NextTickAsync(ticks!, stop).ConfigureAwait(false))
                {
                    return;
                }

                continue;
            }

            var count = 0;
            while (count < allowed && flow.TryTake())
            {
                count++;
            }

            if (count == 0)
            {
                if (!await flow.WaitAsync(CreditTimeout).ConfigureAwait(false))
                {
                    if (stop.IsCancellationRequested)
                    {
                        return;
                    }

                    // A message was lost (or is stuck): go on without its credit rather than stop.
                    Interlocked.Increment(ref flow.Stalls);
                }

                count = 1;
            }

            pace?.Return(allowed - count);
            try
            {
                // Not cancelled by the stop: the closed loop ends after the batch it is writing.
                await client.PublishAsync(topics, random, payload, index, scenario.Qos, count, cancellation: CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
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

    private async Task<Result> LatencyAsync(Scenario scenario)
    {
        var flows = new[] { new Flow(int.MaxValue / 2, 1) };
        LoadClient? subscriber = null;
        LoadClient? publisher = null;
        try
        {
            subscriber = await LoadClient.ConnectAsync(SubscriberTransport(scenario, 0), "lat-sub", flows).ConfigureAwait(false);
            await subscriber.SubscribeAsync(["load/latency"], scenario.Qos, SetupTimeout).ConfigureAwait(false);
            publisher = await LoadClient.ConnectAsync(PublisherTransport, "lat-pub", []).ConfigureAwait(false);
            if (cluster is not null)
            {
                await UntilRoutedAsync(publisher, [subscriber], [["load/latency"]]).ConfigureAwait(false);
            }

            var stop = false;
            var pub = publisher;
            var pacer = new Thread(() =>
            {
                // Open loop at a fixed rate: every millisecond, send what is due since the start.
                var topics = new[] { Utf8("load/latency") };
                var payload = new byte[scenario.PayloadSize];
                var pace = new Pace(scenario.Rate);
                while (!Volatile.Read(ref stop))
                {
                    Thread.Sleep(Pace.Tick);
                    var due = pace.Take(1000);
                    if (due == 0)
                    {
                        continue;
                    }

                    try
                    {
                        pub.PublishAsync(topics, null, payload, 0, scenario.Qos, due).AsTask().GetAwaiter().GetResult();
                    }
                    catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
                    {
                        return;
                    }
                }
            })
            { IsBackground = true, Name = "latency pacer" };
            pacer.Start();
            var measured = await MeasureAsync([subscriber]).ConfigureAwait(false);
            Volatile.Write(ref stop, true);
            pacer.Join(TimeSpan.FromSeconds(10));
            return measured with { Scenario = scenario };
        }
        finally
        {
            await CloseAllAsync([publisher, subscriber]).ConfigureAwait(false);
        }
    }

    private async Task<Result> IdleAsync(Scenario scenario)
    {
        var count = settings.IdleConnections;
        var clients = new LoadClient[count];
        try
        {
            var before = await broker.SteadyRssAsync().ConfigureAwait(false);
            var cpuBefore = broker.CpuSeconds();
            var clock = Stopwatch.StartNew();
            // The bare Kestrel app does not speak MQTT: it gets the CONNECT bytes and answers nothing.
            var waitForConnAck = broker.Kind != BrokerKind.Kestrel;
            await ForEachAsync(count, 64, async i =>
                clients[i] = await LoadClient.ConnectAsync(transport, Id("idle-", i), [], IdleClient, waitForConnAck).ConfigureAwait(false)).WaitAsync(SetupTimeout).ConfigureAwait(false);
            var elapsed = clock.Elapsed.TotalSeconds;
            var cpu = broker.CpuSeconds() - cpuBefore;
            var after = await broker.SteadyRssAsync().ConfigureAwait(false);
            var notes = new List<string>();
            foreach (var at in settings.IdleSamples)
            {
                var wait = TimeSpan.FromSeconds(at) - clock.Elapsed + TimeSpan.FromSeconds(elapsed);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait).ConfigureAwait(false);
                }

                var rss = broker.RssBytes();
                notes.Add(string.Create(CultureInfo.InvariantCulture, $"{(rss - before) / 1024.0 / count:F2} KB at {at:N0} s"));
                Console.WriteLine($"    {broker.Kind} {count} idle, {at:N0} s after the last connect: {notes[^1]}, RSS {rss / 1048576.0:F1} MB");
            }

            await Task.Delay(TimeSpan.FromSeconds(settings.HoldSeconds)).ConfigureAwait(false);
            return new Result(scenario, broker.Kind)
            {
                Rate = count / elapsed,
                CpuMicroseconds = cpu * 1e6 / count,
                RssBytes = after,
                RssPerConnection = (after - before) / (double)count,
                Notes = notes,
            };
        }
        finally
        {
            await CloseAllAsync(clients).ConfigureAwait(false);
        }
    }

    private async Task<Result> ConnectRateAsync(Scenario scenario)
    {
        // Unmeasured connects first, as the closed-loop scenarios warm up (WarmUpAsync): at least --warmup seconds and until the
        // broker's CPU per connect has settled, so that a .NET broker's connect path is compiled and tiered up as in a broker that
        // has been running; connect-rate-fresh measures a fresh process instead. Each connect comes from one of many loopback
        // source addresses (ConnectSource), so the TIME_WAIT sockets it leaves never run out of ports.
        var total = Math.Min(settings.Connects, scenario.MaxConnects);
        Warmup? warmup = null;
        if (!scenario.Fresh)
        {
            var warming = new ConnectLoop();
            var loop = ConnectAndDisconnectAsync(scenario, "warm-", int.MaxValue, new LatencyHistogram(), warming);
            warmup = await WarmUpAsync(() => Volatile.Read(ref warming.Done), loop).ConfigureAwait(false);
            warming.Stopping = true;
            await loop.ConfigureAwait(false);
        }

        var connects = new LatencyHistogram();
        var toolBefore = Environment.CpuUsage.TotalTime;
        var cpuBefore = BrokerCpuSeconds();
        var nodesBefore = cluster?.CpuSecondsEach();
        var clock = Stopwatch.StartNew();
        await ConnectAndDisconnectAsync(scenario, "rate-", total, connects).ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;
        var cpu = BrokerCpuSeconds() - cpuBefore;
        var nodesCpu = cluster?.CpuSecondsEach();
        return new Result(scenario, broker.Kind)
        {
            Notes = nodesCpu is null ? [] : [NodesNote(nodesBefore!, nodesCpu, total, "connects' first")],
            Rate = total / elapsed,
            CpuMicroseconds = cpu * 1e6 / total,
            RssBytes = broker.RssBytes(),
            BrokerCpu = cpu / elapsed,
            // A TLS client's half of a handshake costs the tool more than a broker's half (.NET builds the server's certificate
            // chain on every handshake, resumed ones too): the tool's share says when the tool, not the broker, set the rate.
            ToolCpu = (Environment.CpuUsage.TotalTime - toolBefore).TotalSeconds / elapsed,
            // The latency columns of a connect row: from opening the connection to its CONNACK, 16 in flight.
            Latency = connects,
            Warmup = warmup,
        };
    }

    /// <summary>
    /// Connects and disconnects <paramref name="total"/> clients (or until <paramref name="loop"/> is stopped), 16 at a time, recording
    /// each one's time from opening the connection to its CONNACK.
    /// </summary>
    private Task ConnectAndDisconnectAsync(Scenario scenario, string prefix, int total, LatencyHistogram connects, ConnectLoop? loop = null)
    {
        var next = -1;
        var options = ClientOptions.Default with
        {
            Credentials = credentials,
            Scram = scenario.ScramMethod is { } method ? new ScramOptions(method, new ConcurrentDictionary<string, byte[]>()) : null,
        };
        return ForEachAsync(16, 16, async worker =>
        {
            var mine = new LatencyHistogram();
            int i;
            while (loop is not { Stopping: true } && (i = Interlocked.Increment(ref next)) < total)
            {
                var id = scenario.ReuseClientIds ? Id("client-", worker) : Id(prefix, i);
                var started = Stopwatch.GetTimestamp();
                var client = await LoadClient.ConnectAsync(transport, id, [], options with { Source = ConnectSource.For(i) }).ConfigureAwait(false);
                mine.Record((long)Stopwatch.GetElapsedTime(started).TotalNanoseconds);
                await client.DisconnectAsync().ConfigureAwait(false);
                if (loop is not null)
                {
                    Interlocked.Increment(ref loop.Done);
                }
            }

            lock (connects)
            {
                connects.Add(mine);
            }
        }).WaitAsync(loop is null ? SetupTimeout : TimeSpan.FromSeconds(settings.MaxWarmupSeconds) + SetupTimeout);
    }

    /// <summary>The warm-up's connect loop: how many connects it has made, and the word to stop.</summary>
    private sealed class ConnectLoop
    {
        public long Done;
        public volatile bool Stopping;
    }

    /// <summary>Warms up, then counts deliveries, broker CPU and latency over the measured window.</summary>
    private async Task<Result> MeasureAsync(LoadClient[] receivers)
    {
        var warmup = await WarmUpAsync(() => Sum(receivers)).ConfigureAwait(false);
        LoadClient.Recording = true;
        var receivedBefore = Sum(receivers);
        var toolBefore = Environment.CpuUsage.TotalTime;
        var cpuBefore = BrokerCpuSeconds();
        var nodesBefore = cluster?.CpuSecondsEach();
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(settings.DurationSeconds)).ConfigureAwait(false);
        var received = Sum(receivers) - receivedBefore;
        var cpu = BrokerCpuSeconds() - cpuBefore;
        var nodesCpu = cluster?.CpuSecondsEach();
        var elapsed = clock.Elapsed.TotalSeconds;
        var tool = (Environment.CpuUsage.TotalTime - toolBefore).TotalSeconds;
        LoadClient.Recording = false;
        var rss = cluster?.RssBytes() ?? broker.RssBytes();
        var latency = new LatencyHistogram();
        foreach (var receiver in receivers)
        {
            latency.Add(receiver.Latency);
        }

        return new Result(null!, broker.Kind)
        {
            Rate = received / elapsed,
            CpuMicroseconds = received == 0 ? double.NaN : cpu * 1e6 / received,
            RssBytes = rss,
            Latency = latency,
            ToolCpu = tool / elapsed,
            BrokerCpu = cpu / elapsed,
            Warmup = warmup,
            Notes = nodesCpu is null || received == 0 ? [] : [NodesNote(nodesBefore!, nodesCpu, received, "publishers' first")],
        };
    }

    /// <summary>Each cluster node's CPU per delivery (or connect), in node order (the publishers' or connecting clients' node first).</summary>
    private static string NodesNote(double[] before, double[] after, long received, string first) =>
        $"per node ({first}): " + string.Join(", ", after.Select((cpu, i) =>
            string.Create(CultureInfo.InvariantCulture, $"{(cpu - before[i]) * 1e6 / received:F2} µs")));

    /// <summary>
    /// Runs the load until the broker's CPU time per delivery has settled: a fresh .NET broker runs
    /// Tier-0 and instrumented code at first, and on one saturated core its tiered compilation takes
    /// many seconds to finish (IoTHub measured 216k msgs/s after 3 s of p2p-qos0 and 858k after 30 s).
    /// Settled means the last <see cref="SteadySeconds"/> one-second samples lie within 5 % of their
    /// mean, after at least --warmup seconds and at most --max-warmup seconds. Mosquitto settles at once.
    /// Returns the warm-up's length and whether it settled. <paramref name="completed"/> counts the work (deliveries, or connects);
    /// a <paramref name="load"/> that ends (fails) ends the warm-up with it.
    /// </summary>
    private async Task<Warmup> WarmUpAsync(Func<long> completed, Task? load = null)
    {
        const int SteadySeconds = 3;
        var samples = new Queue<double>(SteadySeconds);
        var clock = Stopwatch.StartNew();
        var received = completed();
        var cpu = BrokerCpuSeconds();
        while (true)
        {
            await (load is null ? Task.Delay(TimeSpan.FromSeconds(1)) : Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(1)))).ConfigureAwait(false);
            if (load is { IsCompleted: true })
            {
                await load.ConfigureAwait(false);
                throw new InvalidOperationException("the warm-up's load ended before the warm-up did");
            }

            var nowReceived = completed();
            var nowCpu = BrokerCpuSeconds();
            if (nowReceived > received)
            {
                if (samples.Count == SteadySeconds)
                {
                    samples.Dequeue();
                }

                samples.Enqueue((nowCpu - cpu) / (nowReceived - received));
            }

            (received, cpu) = (nowReceived, nowCpu);
            var seconds = clock.Elapsed.TotalSeconds;
            var steady = samples.Count == SteadySeconds && samples.All(x => Math.Abs(x - samples.Average()) <= 0.05 * samples.Average());
            if ((steady && seconds >= settings.WarmupSeconds) || seconds >= settings.MaxWarmupSeconds)
            {
                return new Warmup(seconds, steady);
            }
        }
    }

    private static long Sum(LoadClient[] clients) => Sum(clients, client => Volatile.Read(ref client.Received));

    private static long Sum(LoadClient[] clients, Func<LoadClient, long> count)
    {
        long sum = 0;
        foreach (var client in clients)
        {
            sum += count(client);
        }

        return sum;
    }

    private static async Task ForEachAsync(int count, int concurrency, Func<int, Task> body)
    {
        var next = -1;
        var workers = new Task[Math.Min(count, concurrency)];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    await body(i).ConfigureAwait(false);
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    private static async Task CloseAllAsync(LoadClient?[] clients)
    {
        await ForEachAsync(clients.Length, 64, async i =>
        {
            if (clients[i] is { } client)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
    }
}
