using IoTHub.Mqtt;
using IoTHub.Testing;
using Xunit.Abstractions;

namespace IoTHub.Web.Tests;

/// <summary>
/// The data folder on a 1200 KB tmpfs that fills up while QoS 1 and QoS 2 publishers stream to three offline
/// persistent subscribers and a third publisher sends retained QoS 1 messages (each also queued for the
/// subscribers: four writes per PUBLISH), each with many messages in flight and reconnecting after
/// the broker closed it. Once every publisher was closed for a failed commit a few times, the broker is
/// killed with SIGKILL, the disk grown and the broker started again: every acknowledged message is
/// there, retained ones too, and no QoS 2 message comes twice.
/// </summary>
public sealed class FullDiskCrashTests(ITestOutputHelper output)
{
    private const int Trials = 2;
    private const int ClosesPerPublisher = 4;
    private const int Window = 32;
    private static readonly string[] Subscribers = ["subscriber-1", "subscriber-2", "subscriber-3"];

    [TmpfsTheory]
    [InlineData("sqlite")]
    [InlineData("file")]
    public async Task Acknowledged_messages_survive_a_full_disk_and_sigkill(string provider)
    {
        for (var trial = 1; trial <= Trials; trial++)
        {
            output.WriteLine($"{provider} trial {trial} of {Trials}: " + await RunTrialAsync(provider));
        }
    }

    private static async Task<string> RunTrialAsync(string provider)
    {
        using var disk = Tmpfs.Mount("1200k");
        string[] arguments = ["--http-port", "0", "--mqtt-port", "0", "--data-dir", Path.Combine(disk.Path, "data"), "--Storage:Provider=" + provider,
            "--Mqtt:MaximumQueuedMessages=100000", "--Logging:LogLevel:IoTHub.Broker=Warning"];
        var acknowledged = new AcknowledgedMessages();
        int closed;
        using (var host = HostProcess.Start(disk.Path, arguments))
        {
            var endpoint = await host.WaitForMqttEndpointAsync();
            foreach (var subscriber in Subscribers)
            {
                await CrashTests.SubscribeOfflineAsync(endpoint, subscriber,
                    ("full/q1", QualityOfService.AtLeastOnce), ("full/q2", QualityOfService.ExactlyOnce), ("full/retained/#", QualityOfService.AtLeastOnce));
            }

            var closes = await Task.WhenAll(
                acknowledged.PublishAsync(endpoint, "publisher-q1", "full/q1", QualityOfService.AtLeastOnce, window: Window, connections: ClosesPerPublisher, padding: 700),
                acknowledged.PublishAsync(endpoint, "publisher-q2", "full/q2", QualityOfService.ExactlyOnce, window: Window, connections: ClosesPerPublisher, padding: 700),
                acknowledged.PublishAsync(endpoint, "publisher-retained", "full/retained", QualityOfService.AtLeastOnce, retain: true, window: Window,
                    connections: ClosesPerPublisher, padding: 700)).WaitAsync(TimeSpan.FromSeconds(30));
            closed = closes.Sum();
            Assert.Equal(3 * ClosesPerPublisher, closed);

            await host.KillAsync();
        }

        disk.Resize("64m");
        using var restarted = HostProcess.Start(disk.Path, arguments);
        var restartedEndpoint = await restarted.WaitForMqttEndpointAsync();
        var summary = string.Empty;
        foreach (var subscriber in Subscribers)
        {
            summary = await acknowledged.AssertStoredAsync(restartedEndpoint, subscriber, "full/q1", "full/retained");
        }

        restarted.Terminate();
        Assert.Equal(0, await restarted.WaitForExitAsync());
        return $"{closed} connections closed for a full disk; " + summary;
    }
}
