using System.Diagnostics;
using IoTHub.Mqtt;

namespace IoTHub.Interop.Tests;

/// <summary>
/// Keep-alive: a client silent for one and a half times its keep-alive is disconnected by the server
/// (3.1.1 [MQTT-3.1.2-24], 5.0 [MQTT-3.1.2-22]); PINGREQ is answered with PINGRESP (3.1.1 [MQTT-3.12.4-1])
/// and counts as activity.
/// </summary>
public sealed class KeepAliveTests(InteropHost host) : IClassFixture<InteropHost>
{
    /// <summary>Room for the broker's once-a-second check and a busy machine, on top of 1.5 × keep-alive.</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task Raw_client_silent_after_CONNECT_with_keep_alive_1_is_disconnected_after_one_and_a_half_seconds(Protocol protocol)
    {
        var clientId = $"keep-alive-silent-{protocol}";
        var clock = Stopwatch.StartNew();
        var (client, _) = await RawMqttClient.ConnectAsync(host.Endpoint, protocol, clientId, keepAlive: 1);
        using (client)
        {
            // Nothing more is sent. 3.1.1 closes without a word; 5.0 may say why first: DISCONNECT 0x8D Keep Alive timeout.
            var limit = TimeSpan.FromSeconds(1.5) + Slack;
            var packet = await client.TryReadAsync(limit);
            if (packet is { } disconnect)
            {
                Assert.Equal(Protocol.V500, protocol);
                Assert.Equal((PacketType.Disconnect, 0x8D), (disconnect.Type, disconnect.DisconnectReason));
                Assert.True(await client.WaitForCloseAsync(Slack), "DISCONNECT was not followed by closing the connection");
            }

            var elapsed = clock.Elapsed;

            // The broker counts from the CONNECT it read, which was after the clock started: never before 1.5 s.
            Assert.InRange(elapsed, TimeSpan.FromSeconds(1.5), limit);
        }

        await host.WaitUntilOfflineAsync(clientId, Slack);
    }

    /// <summary>
    /// mosquitto_sub (whose smallest keep-alive is 5 s) pings once the keep-alive passes idle; frozen with
    /// SIGSTOP right after its PINGRESP, it is disconnected 1.5 × keep-alive after that PINGREQ, not after
    /// its SUBSCRIBE: the PINGREQ counted.
    /// </summary>
    [Fact]
    public async Task Mosquitto_sub_ping_keeps_it_connected_and_once_stopped_it_is_disconnected_after_one_and_a_half_keep_alive()
    {
        const string clientId = "keep-alive-mosquitto";
        const int keepAlive = 5;
        using var subscriber = Mosquitto.SubscribeWith(host, Protocol.V311, "-i", clientId, "-k", "5", "-t", "keep-alive/mosquitto");
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);

        await subscriber.WaitForLineAsync("received PINGRESP", TimeSpan.FromSeconds(keepAlive) + Slack);
        await subscriber.SuspendAsync();
        var stopped = Stopwatch.StartNew();
        try
        {
            Assert.True(host.Broker.FindSession(clientId)?.IsConnected, "the broker dropped a client that was pinging");
            await host.WaitUntilOfflineAsync(clientId, TimeSpan.FromSeconds(1.5 * keepAlive) + Slack);

            // Without the PINGREQ the deadline would have been 1.5 × 5 s after SUBSCRIBE, about 2.5 s after the stop.
            Assert.True(stopped.Elapsed > TimeSpan.FromSeconds(1.5 * keepAlive - 0.5), $"disconnected only {stopped.Elapsed} after the last PINGREQ");
        }
        finally
        {
            subscriber.Resume();
        }
    }
}
