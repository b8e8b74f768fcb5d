using System.Diagnostics;
using System.Globalization;
using IoTHub.Mqtt;

namespace IoTHub.LoadTest;

/// <summary>
/// The open-loop scenarios (issue 26): publishers send at fixed rates whatever the subscribers receive, so
/// a broker that falls behind shows delivered &lt; offered, and one that collapses stays low after the
/// overload ends, where the closed loop would only slow its publishers down.
/// </summary>
internal sealed partial class Runner
{
    /// <summary>
    /// A publisher held up longer than this (TCP back-pressure, unacknowledged QoS 1) sends at most this
    /// much of what fell due meanwhile: it catches up on a short hiccup, and a long hold-up shows as a
    /// published rate below the offered one instead of a burst spilling into the next step.
    /// </summary>
    private static readonly TimeSpan MaxPublisherLag = TimeSpan.FromMilliseconds(100);

    /// <summary>After the last step, how long deliveries may trickle in before the live pairs' loss is counted.</summary>
    private static readonly TimeSpan MaxDrain = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A stuck subscriber's receive buffer: small, so the broker's writes to it stop within milliseconds
    /// (loopback buffers otherwise hold megabytes, DESIGN.md §7). Linux doubles the value.
    /// </summary>
    private const int StuckReceiveBuffer = 4096;

    private async Task<Result> OpenLoopAsync(Scenario scenario)
    {
        var plan = scenario.Plan!;
        var pairs = Math.Min(scenario.Publishers, scenario.Subscribers);
        var subscribers = new LoadClient[pairs];
        var publishers = new LoadClient[pairs];
        LoadClient? stuck = null;
        try
        {
            await CreateOfflineSessionsAsync(plan).WaitAsync(SetupTimeout).ConfigureAwait(false);
            await ForEachAsync(pairs, 50, async i =>
            {
                subscribers[i] = await LoadClient.ConnectAsync(transport, Id("live-sub-", i), []).ConfigureAwait(false);
                await subscribers[i].SubscribeAsync([Id("bench/", i)], scenario.Qos, SetupTimeout).ConfigureAwait(false);
            }).WaitAsync(SetupTimeout).ConfigureAwait(false);
            var publisherOptions = new ClientOptions(InflightLimit: OpenLoopPlan.InflightLimit);
            await ForEachAsync(pairs, 50, async i =>
                publishers[i] = await LoadClient.ConnectAsync(transport, Id("live-pub-", i), [], publisherOptions).ConfigureAwait(false)).WaitAsync(SetupTimeout).ConfigureAwait(false);
            var stuckSince = Stopwatch.StartNew();
            if (plan.StuckSubscriber)
            {
                stuck = await LoadClient.ConnectAsync(transport, "stuck-sub", [], new ClientOptions(ReceiveBufferSize: StuckReceiveBuffer, StopReadingAfterSubAck: true)).ConfigureAwait(false);
                await stuck.SubscribeAsync(["bench/#"], QualityOfService.AtMostOnce, SetupTimeout).ConfigureAwait(false);
                stuckSince.Restart();
            }

            var load = new OfferedLoad(pairs);
            load.Offer(plan.Rates[0]);
            using var stop = new CancellationTokenSource();
            var loops = new Task[pairs];
            for (var i = 0; i < pairs; i++)
            {
                var index = i;
                loops[i] = Task.Run(() => OfferAsync(publishers[index], load, index, scenario, stop.Token));
            }

            await Task.Delay(TimeSpan.FromSeconds(plan.WarmupSeconds)).ConfigureAwait(false);
            var steps = new List<RateStep>();
            LoadClient.Recording = true;
            foreach (var rate in plan.Rates)
            {
                load.Offer(rate);
                steps.Add(await MeasureStepAsync(rate, publishers, subscribers).ConfigureAwait(false));
            }

            LoadClient.Recording = false;
            var notes = new List<string>();
            if (stuck is not null)
            {
                notes.Add(StuckState(stuck, stuckSince.Elapsed));
            }

            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            notes.Add(await LossAsync(publishers, subscribers).ConfigureAwait(false));
            notes.Add(plan.WarmupSeconds > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{plan.WarmupSeconds:N0} s warm-up at the offered rate")
                : "no warm-up (a fresh broker)");
            return new Result(scenario, broker.Kind) { Steps = steps, Notes = notes, RssBytes = broker.RssBytes() };
        }
        finally
        {
            LoadClient.Recording = false;
            await CloseAllAsync([stuck]).ConfigureAwait(false);
            await CloseAllAsync(publishers).ConfigureAwait(false);
            await CloseAllAsync(subscribers).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Persistent sessions (Clean Session 0) on bench/# at QoS 1 that go offline, and then more QoS 1
    /// messages than their queue limit, acknowledged before the load starts: every queue is full from the
    /// first offered message on, whatever the warm-up.
    /// </summary>
    private async Task CreateOfflineSessionsAsync(OpenLoopPlan plan)
    {
        if (plan.OfflineSessions == 0)
        {
            return;
        }

        var persistent = new ClientOptions(CleanSession: false);
        await ForEachAsync(plan.OfflineSessions, 20, async i =>
        {
            var client = await LoadClient.ConnectAsync(transport, Id("offline-", i), [], persistent).ConfigureAwait(false);
            await client.SubscribeAsync(["bench/#"], QualityOfService.AtLeastOnce, SetupTimeout).ConfigureAwait(false);
            await client.DisconnectAsync().ConfigureAwait(false);
        }).ConfigureAwait(false);
        var filler = await LoadClient.ConnectAsync(transport, "filler", [], new ClientOptions(InflightLimit: OpenLoopPlan.InflightLimit)).ConfigureAwait(false);
        try
        {
            // In batches: one call takes all its in-flight slots before it writes, so one over the limit would wait forever.
            const int Batch = 100;
            var payload = new byte[LoadClient.PayloadHeader];
            for (var sent = 0; sent < OpenLoopPlan.FillMessages; sent += Batch)
            {
                await filler.PublishAsync([Utf8("bench/fill")], null, payload, 0, QualityOfService.AtLeastOnce, Math.Min(Batch, OpenLoopPlan.FillMessages - sent)).ConfigureAwait(false);
            }

            await filler.WaitUntilAcknowledgedAsync(SetupTimeout).ConfigureAwait(false);
        }
        finally
        {
            await filler.DisconnectAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends what the offered load says is due, every millisecond, without waiting for deliveries; at
    /// QoS 1 it waits for PUBACKs only when <see cref="OpenLoopPlan.InflightLimit"/> are outstanding.
    /// </summary>
    private static async Task OfferAsync(LoadClient client, OfferedLoad load, int index, Scenario scenario, CancellationToken stop)
    {
        const int MaxBatch = 1_000;
        var topic = new[] { Utf8(Id("bench/", index)) };
        var payload = new byte[Math.Max(scenario.PayloadSize, LoadClient.PayloadHeader)];
        using var ticks = new PeriodicTimer(Pace.Tick);
        try
        {
            while (await NextTickAsync(ticks, stop).ConfigureAwait(false))
            {
                int due;
                while ((due = load.PaceOf(index).Take(MaxBatch)) > 0)
                {
                    await client.PublishAsync(topic, null, payload, index, scenario.Qos, due, cancellation: stop).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
        }
    }

    /// <summary>One step: the offered rate for --duration seconds, with what was published, delivered and spent.</summary>
    private async Task<RateStep> MeasureStepAsync(int rate, LoadClient[] publishers, LoadClient[] receivers)
    {
        foreach (var receiver in receivers)
        {
            receiver.TakeLatency();
        }

        var publishedBefore = Published(publishers);
        var receivedBefore = Sum(receivers);
        var toolBefore = Environment.CpuUsage.TotalTime;
        var cpuBefore = broker.CpuSeconds();
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(settings.DurationSeconds)).ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;
        var latency = new LatencyHistogram();
        foreach (var receiver in receivers)
        {
            latency.Add(receiver.TakeLatency());
        }

        return new RateStep(
            rate,
            (Published(publishers) - publishedBefore) / elapsed,
            (Sum(receivers) - receivedBefore) / elapsed,
            (broker.CpuSeconds() - cpuBefore) / elapsed,
            (Environment.CpuUsage.TotalTime - toolBefore).TotalSeconds / elapsed,
            latency);
    }

    private static long Published(LoadClient[] publishers) => Sum(publishers, client => Volatile.Read(ref client.Published));

    /// <summary>
    /// Once the publishers have stopped and deliveries stopped coming (at most <see cref="MaxDrain"/>), what
    /// the live pairs published and never received, over the whole run (warm-up included).
    /// </summary>
    private static async Task<string> LossAsync(LoadClient[] publishers, LoadClient[] subscribers)
    {
        var clock = Stopwatch.StartNew();
        var received = Sum(subscribers);
        while (clock.Elapsed < MaxDrain)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500)).ConfigureAwait(false);
            var now = Sum(subscribers);
            if (now == received)
            {
                break;
            }

            received = now;
        }

        var published = Published(publishers);
        var lost = published - received;
        return lost <= 0
            ? string.Create(CultureInfo.InvariantCulture, $"live pairs: all {published:N0} published messages delivered")
            : string.Create(CultureInfo.InvariantCulture, $"live pairs: {lost:N0} of {published:N0} published messages not delivered ({(double)lost / published:P1})");
    }

    /// <summary>
    /// Whether the broker still holds the stuck subscriber's connection, from its end's state in the kernel's
    /// TCP table (the subscriber reads nothing, so it cannot tell): IoTHub, for one, closes a client whose
    /// flush has been stuck for Mqtt:StuckClientTimeout (30 s), and the figures count only while it is open.
    /// </summary>
    private string StuckState(LoadClient stuck, TimeSpan since)
    {
        var seconds = since.TotalSeconds.ToString("N0", CultureInfo.InvariantCulture);
        return TcpTable.Find(broker.Port, stuck.LocalPort) switch
        {
            null => $"stuck subscriber disconnected by the broker within {seconds} s",
            { State: 1 } open => string.Create(CultureInfo.InvariantCulture, $"stuck subscriber still connected after {seconds} s ({open.SendQueue / 1024.0:N0} KB unsent at the broker's end)"),
            var closing => $"stuck subscriber disconnected by the broker within {seconds} s (its end {closing.StateName})",
        };
    }

    /// <summary>The paces of the publishers at the current step's rate, split evenly between them.</summary>
    private sealed class OfferedLoad(int publishers)
    {
        private Pace[] _paces = [];

        public Pace PaceOf(int publisher) => Volatile.Read(ref _paces)[publisher];

        /// <summary>From now on, <paramref name="rate"/> messages per second in all: each publisher its own share, so one held up does not shift load onto the others.</summary>
        public void Offer(int rate)
        {
            var paces = new Pace[publishers];
            for (var i = 0; i < paces.Length; i++)
            {
                paces[i] = new Pace(rate / publishers, MaxPublisherLag);
            }

            Volatile.Write(ref _paces, paces);
        }
    }
}
