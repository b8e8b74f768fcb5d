using System.Diagnostics;
using IoTHub.Testing;

namespace IoTHub.Interop.Tests;

/// <summary>
/// Wills over real sockets, from real client processes: a client killed with SIGKILL (its kernel closes
/// the socket, no DISCONNECT) has its will published ([MQTT-3.1.2-8]); a normal DISCONNECT deletes it
/// ([MQTT-3.1.2-10], [MQTT-3.14.4-3]); a client that goes silent past 1.5 × its keep-alive is cut off as
/// if the network had failed ([MQTT-3.1.2-24], 5.0 [MQTT-3.1.2-22]), will included; a 5.0 Will Delay
/// Interval holds the will back, and a reconnect to the session within it cancels it ([MQTT-3.1.3-9]).
/// The watcher is an MQTTnet 5.0 client. Each test uses its own topic subtree.
/// </summary>
public sealed class WillTests(InteropHost host) : IClassFixture<InteropHost>
{
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(5);

    public enum Killed
    {
        MosquittoSub311,
        Paho5,
    }

    [Theory]
    [InlineData(Killed.MosquittoSub311)]
    [InlineData(Killed.Paho5)]
    public async Task Will_of_a_client_process_killed_with_SIGKILL_reaches_an_MQTTnet_subscriber(Killed kind)
    {
        var willTopic = $"wills/killed/{kind}";
        await using var watcher = await WatchAsync($"will-watcher-{kind}", "wills/killed/#");

        var clientId = $"will-killed-{kind}";
        var client = kind == Killed.MosquittoSub311
            ? Mosquitto.SubscribeWith(host, Protocol.V311, "-i", clientId, "-q", "1", "-t", "wills/killed/unused",
                "--will-topic", willTopic, "--will-payload", "gone", "--will-qos", "1")
            : Paho.StartWithWill(host, Protocol.V500, clientId, willTopic, "gone", willQos: 1, then: "loop");
        try
        {
            if (kind == Killed.MosquittoSub311)
            {
                await Mosquitto.WaitUntilSubscribedAsync(client);
            }
            else
            {
                await Paho.WaitUntilConnectedAsync(client);
            }

            Assert.True(host.Broker.FindSession(clientId)?.IsConnected, "the client is not connected");
            Assert.Empty(watcher.Messages); // nothing yet: the will waits for the connection to end
        }
        finally
        {
            client.Dispose(); // Process.Kill: SIGKILL, as kill -9
        }

        await watcher.WaitForMessagesAsync(1);
        Assert.Equal([new Received(willTopic, "gone", 1, false)], watcher.Messages);
    }

    [Fact]
    public async Task Mosquitto_pub_exiting_with_a_normal_DISCONNECT_has_its_will_deleted()
    {
        await using var watcher = await WatchAsync("will-watcher-normal", "wills/normal/#");

        // mosquitto_pub with a will publishes, sends DISCONNECT (0x00) and exits.
        await Mosquitto.PublishWithAsync(host, Protocol.V311, "-i", "will-normal-pub", "-t", "wills/normal/data", "-q", "1", "-m", "hello",
            "--will-topic", "wills/normal/pub-will", "--will-payload", "should not come", "--will-qos", "1");
        await host.WaitUntilOfflineAsync("will-normal-pub", Slack);

        // A control, started after mosquitto_pub's connection is gone: killed, its will comes. Had the DISCONNECT
        // not deleted mosquitto_pub's will, that will would have been published when its connection closed, before.
        using (var control = Paho.StartWithWill(host, Protocol.V311, "will-normal-control", "wills/normal/control-will", "control", willQos: 1, then: "loop"))
        {
            await Paho.WaitUntilConnectedAsync(control);
        }

        await watcher.WaitForMessagesAsync(2);
        Assert.Equal(
            [new Received("wills/normal/data", "hello", 1, false), new Received("wills/normal/control-will", "control", 1, false)],
            watcher.Messages);
    }

    [Fact]
    public async Task Paho_client_that_stops_sending_is_cut_off_after_one_and_a_half_keep_alive_and_its_will_published()
    {
        await using var watcher = await WatchAsync("will-watcher-keepalive", "wills/keepalive/#");

        // Keep-alive 1 s; after CONNACK the script neither reads nor writes (no PINGREQ) but keeps its socket open.
        using var silent = Paho.StartWithWill(host, Protocol.V311, "will-keepalive", "wills/keepalive/silent", "timed out", willQos: 1,
            then: "silent", keepAlive: 1);
        await silent.WaitForLineAsync(line => line.Contains("\"silent\"", StringComparison.Ordinal));
        var clock = Stopwatch.StartNew();

        await watcher.WaitForMessagesAsync(1, TimeSpan.FromSeconds(1.5) + Slack);
        var elapsed = clock.Elapsed;
        Assert.Equal([new Received("wills/keepalive/silent", "timed out", 1, false)], watcher.Messages);

        // The process still runs with its socket open: only the keep-alive can have ended the connection,
        // 1.5 s after the CONNECT, which was sent just before the clock started.
        Assert.True(host.Broker.FindSession("will-keepalive") is not { IsConnected: true });
        Assert.InRange(elapsed, TimeSpan.FromSeconds(1.0), TimeSpan.FromSeconds(1.5) + Slack);
    }

    /// <summary>
    /// Two paho 5.0 clients with Will Delay Interval 2 s and Session Expiry 60 s are killed. One reconnects
    /// to its session (Clean Start 0) within the delay: its will is never sent ([MQTT-3.1.3-9]). The other
    /// does not: its will comes once the delay has passed, not before (5.0 §3.1.3.2.2).
    /// </summary>
    [Fact]
    public async Task Will_delay_is_cancelled_by_a_reconnect_within_it_and_otherwise_the_will_comes_after_the_delay()
    {
        const uint delay = 2;
        await using var watcher = await WatchAsync("will-watcher-delay", "wills/delay/#");

        ChildProcess? resumed = null;
        var reconnecting = StartWithDelayedWill("will-delay-resumed", "wills/delay/resumed", "resumed client gone", delay, clean: true);
        var leaving = StartWithDelayedWill("will-delay-left", "wills/delay/left", "left client gone", delay, clean: true);
        try
        {
            await Paho.WaitUntilConnectedAsync(reconnecting);
            await Paho.WaitUntilConnectedAsync(leaving);

            // The one to reconnect is killed first, so its delay ends first: had it not been cancelled, its will
            // would be out before the other's.
            reconnecting.Dispose();
            leaving.Dispose();
            var killed = Stopwatch.StartNew();
            await host.WaitUntilOfflineAsync("will-delay-resumed", Slack);
            await host.WaitUntilOfflineAsync("will-delay-left", Slack);

            resumed = StartWithDelayedWill("will-delay-resumed", "wills/delay/resumed", "resumed client gone", delay, clean: false);
            await Paho.WaitUntilConnectedAsync(resumed);
            var reconnectedAfter = killed.Elapsed;
            Assert.True(reconnectedAfter < TimeSpan.FromSeconds(delay), $"the reconnect took {reconnectedAfter}, past the will delay: the test proves nothing");
            Assert.True(Paho.SessionPresent(resumed), "the session was not resumed");

            await watcher.WaitForMessagesAsync(1, TimeSpan.FromSeconds(delay) + Slack);
            var willAfter = killed.Elapsed;
            Assert.True(willAfter >= TimeSpan.FromSeconds(delay - 0.1), $"the will came {willAfter} after the kill, before its {delay} s delay");

            // A marker through the broker: any will published before it is in the watcher's queue ahead of it.
            await using (var marker = await MqttNetClient.ConnectAsync(host, Protocol.V500, "will-delay-marker"))
            {
                await marker.PublishAsync("wills/delay/marker", "end", 1);
            }

            await watcher.WaitForMessagesAsync(2);
            Assert.Equal(
                [new Received("wills/delay/left", "left client gone", 1, false), new Received("wills/delay/marker", "end", 1, false)],
                watcher.Messages);
        }
        finally
        {
            reconnecting.Dispose();
            leaving.Dispose();
            resumed?.Dispose();
        }
    }

    /// <summary>
    /// A paho 5.0 client killed with a 30 s Will Delay Interval comes back within it with Clean Start 1 (what paho's
    /// default, <c>MQTT_CLEAN_START_FIRST_ONLY</c>, sends from a new process): that is no connection to its session but
    /// the end of it ([MQTT-3.1.2-4]), and a delayed will goes when its session ends if that comes first
    /// (5.0 §3.1.3.2.2), so the will arrives now, not after 30 s; [MQTT-3.1.3-9] spares only a resumed session.
    /// </summary>
    [Fact]
    public async Task Will_delay_ends_with_the_session_when_a_paho_client_comes_back_with_clean_start()
    {
        const uint delay = 30;
        await using var watcher = await WatchAsync("will-watcher-clean", "wills/clean/#");

        ChildProcess? fresh = null;
        var killed = StartWithDelayedWill("will-clean", "wills/clean/gone", "gone", delay, clean: true);
        try
        {
            await Paho.WaitUntilConnectedAsync(killed);
            killed.Dispose();
            await host.WaitUntilOfflineAsync("will-clean", Slack);
            Assert.Empty(watcher.Messages); // the will waits for its delay

            var back = Stopwatch.StartNew();
            fresh = StartWithDelayedWill("will-clean", "wills/clean/again", "again", delay, clean: true);
            await Paho.WaitUntilConnectedAsync(fresh);
            Assert.False(Paho.SessionPresent(fresh));

            await watcher.WaitForMessagesAsync(1, Slack);
            Assert.True(back.Elapsed < TimeSpan.FromSeconds(delay), $"the will came {back.Elapsed} after the reconnect");
            Assert.Equal([new Received("wills/clean/gone", "gone", 1, false)], watcher.Messages);
        }
        finally
        {
            killed.Dispose();
            fresh?.Dispose();
        }
    }

    private async Task<MqttNetClient> WatchAsync(string clientId, string filter)
    {
        var watcher = await MqttNetClient.ConnectAsync(host, Protocol.V500, clientId);
        await watcher.SubscribeAsync(filter, 1);
        return watcher;
    }

    /// <summary>A paho 5.0 client with a QoS 1 will delayed by <paramref name="delay"/> and Session Expiry 60 s, staying connected.</summary>
    private ChildProcess StartWithDelayedWill(string clientId, string willTopic, string willPayload, uint delay, bool clean) =>
        Paho.StartWithWill(host, Protocol.V500, clientId, willTopic, willPayload, willQos: 1, then: "loop", willDelay: delay, clean: clean, sessionExpiry: 60);
}
