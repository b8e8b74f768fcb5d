using System.Diagnostics;
using System.Net.Sockets;
using IoTHub.Mqtt;

namespace IoTHub.Interop.Tests;

/// <summary>
/// A connection the broker closes with a reason while the client is still sending (issue 14, defect 9): the broker
/// keeps reading and discarding until the client stops, so the client reads the reason instead of failing its next
/// send on a reset (the Paho 5.0 test test_flow_control2 failed with a broken pipe).
/// </summary>
public sealed class LingeringCloseTests(InteropHost host) : IClassFixture<InteropHost>
{
    // [MQTT-3.3.4-9] (5.0): more QoS 2 messages awaiting PUBREL than the Receive Maximum the server announced: DISCONNECT 0x93.
    [Fact]
    public async Task A_client_still_sending_after_disconnect_reads_the_reason_and_is_not_reset()
    {
        var (client, _) = await RawMqttClient.ConnectAsync(host.Endpoint, Protocol.V500, "flooder");
        using (client)
        {
            var maximum = host.Broker.Options.MaximumIncomingInflightMessages;
            ushort id = 0;
            RawPacket? disconnect = null;
            for (var i = 0; i <= maximum && disconnect is null; i++)
            {
                await client.SendAsync(client.Publish("flood/t", "x", qos: 2, packetId: ++id));
            }

            while (disconnect is null)
            {
                var packet = await client.ReadAsync();
                disconnect = packet.Type == PacketType.Disconnect ? packet : null;
            }

            Assert.Equal((int)ReasonCode.ReceiveMaximumExceeded, disconnect.Value.DisconnectReason);

            // A client that has not looked at its input yet goes on sending for a while: every send must still succeed.
            var sending = Stopwatch.StartNew();
            var sent = 0;
            while (sending.Elapsed < TimeSpan.FromMilliseconds(100))
            {
                var error = await Record.ExceptionAsync(() => client.SendAsync(client.Publish("flood/t", "more", qos: 2, packetId: ++id)));
                Assert.True(error is null, $"send {sent + 1} after DISCONNECT failed: {(error as SocketException)?.SocketErrorCode} {error?.Message}");
                sent++;
            }

            Assert.True(sent > 0);
        }
    }
}
