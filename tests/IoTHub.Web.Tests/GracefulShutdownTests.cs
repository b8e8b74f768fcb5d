using System.Diagnostics;
using System.Globalization;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>SIGTERM with a thousand clients and messages in flight: drain, DISCONNECT 0x8B last, exit 0.</summary>
public sealed class GracefulShutdownTests : IDisposable
{
    private const int Clients = 1_000;
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly TempDirectory _workingDirectory = new();

    [Fact]
    public async Task Sigterm_delivers_what_is_queued_sends_0x8B_and_exits_0()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0",
            "--data-dir", Path.Combine(_workingDirectory.Path, "data"), "--Mqtt:DrainTimeout=00:00:05",
            "--Logging:LogLevel:IoTHub.Broker=Warning");
        var endpoint = await host.WaitForMqttEndpointAsync();

        var devices = new List<MqttTestClient>(Clients);
        try
        {
            for (var batch = 0; batch < Clients; batch += 50)
            {
                devices.AddRange(await Task.WhenAll(Enumerable.Range(batch, 50).Select(async i =>
                {
                    var device = await MqttTestClient.ConnectTcpAsync(endpoint, "device-" + i, MqttProtocolVersion.V500);
                    await device.SubscribeAsync("devices/" + i, QualityOfService.AtLeastOnce);
                    return device;
                })));
            }

            // Each device acknowledges its message, then must see DISCONNECT 0x8B as the last packet.
            var outcomes = devices.Select(ReceiveThenShutdownAsync).ToList();

            await using var publisher = await MqttTestClient.ConnectTcpAsync(endpoint, "publisher");
            for (var i = 0; i < Clients; i++)
            {
                await publisher.PublishAndWaitAsync("devices/" + i, "command " + i);
            }

            var stopping = Stopwatch.StartNew();
            host.Terminate();

            Assert.Equal(0, await host.WaitForExitAsync());
            Assert.True(stopping.Elapsed < DrainTimeout + TimeSpan.FromSeconds(5), $"exit took {stopping.Elapsed}");
            var received = await Task.WhenAll(outcomes);
            Assert.Equal(Enumerable.Range(0, Clients).Select(i => "command " + i.ToString(CultureInfo.InvariantCulture)), received);
        }
        finally
        {
            foreach (var device in devices)
            {
                await device.DisposeAsync();
            }
        }
    }

    private static async Task<string> ReceiveThenShutdownAsync(MqttTestClient device)
    {
        var message = await device.ExpectPublishAsync();
        await device.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        var rest = await device.DrainUntilClosedAsync();
        var disconnect = Assert.IsType<DisconnectPacket>(Assert.Single(rest).Control);
        Assert.Equal(ReasonCode.ServerShuttingDown, disconnect.ReasonCode);
        return message.PayloadText;
    }


    public void Dispose() => _workingDirectory.Dispose();
}
