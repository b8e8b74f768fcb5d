using System.Net;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Xunit.Abstractions;

namespace IoTHub.Web.Tests;

/// <summary>
/// The broker process is killed with SIGKILL while QoS 1 and 2 publishers run and the subscriber is
/// offline. After a restart every message a publisher got an acknowledgement for arrives: at least once
/// for QoS 1, exactly once for QoS 2.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed class CrashTests(PostgresServer postgres, ITestOutputHelper output) : IDisposable
{
    private const int Target = 150;

    private readonly TempDirectory _workingDirectory = new();

    [Theory]
    [InlineData("sqlite")]
    [InlineData("file")]
    [InlineData("postgres")]
    public async Task Acknowledged_messages_survive_sigkill(string provider)
    {
        string dataDirectory = Path.Combine(_workingDirectory.Path, "data");
        List<string> arguments = ["--http-port", "0", "--mqtt-port", "0", "--data-dir", dataDirectory, "--Storage:Provider=" + provider,
            "--Logging:LogLevel:IoTHub.Broker=Warning"];
        if (provider == "postgres")
        {
            arguments.Add("--Storage:ConnectionString=" + await postgres.CreateDatabaseAsync());
            arguments.Add("--Storage:MigrateOnStart=true");
        }

        var acknowledged = new AcknowledgedMessages();
        using (var host = HostProcess.Start(_workingDirectory.Path, [.. arguments]))
        {
            var endpoint = await host.WaitForMqttEndpointAsync();
            await SubscribeOfflineAsync(endpoint, "subscriber", ("crash/q1", QualityOfService.AtLeastOnce), ("crash/q2", QualityOfService.ExactlyOnce));

            var qos1 = acknowledged.PublishAsync(endpoint, "publisher-q1", "crash/q1", QualityOfService.AtLeastOnce);
            var qos2 = acknowledged.PublishAsync(endpoint, "publisher-q2", "crash/q2", QualityOfService.ExactlyOnce);
            await Poll.UntilAsync(() => acknowledged.Qos1.Count >= Target && acknowledged.Qos2.Count >= Target, TimeSpan.FromSeconds(30));

            await host.KillAsync();
            await Task.WhenAll(qos1, qos2).WaitAsync(MqttTestClient.Timeout);
        }

        using var restarted = HostProcess.Start(_workingDirectory.Path, [.. arguments]);
        output.WriteLine(provider + ": " + await acknowledged.AssertStoredAsync(await restarted.WaitForMqttEndpointAsync(), "subscriber", "crash/q1"));

        restarted.Terminate();
        var exitCode = await restarted.WaitForExitAsync();
        Assert.True(exitCode == 0, $"exit code {exitCode}. Output:\n{restarted.Output}");
    }

    /// <summary>
    /// PostgreSQL restarted (`pg_ctl restart -m fast`) while a publisher streams QoS 1 messages with 32 in
    /// flight to an offline persistent subscriber: the commits in flight fail, the publisher is disconnected
    /// and sends again what was not acknowledged, and once all are acknowledged the broker is killed and
    /// restarted: every one of them is there.
    /// </summary>
    [Fact]
    public async Task Acknowledged_messages_survive_a_postgres_restart_mid_stream()
    {
        const int Messages = 20_000;
        string[] arguments = ["--http-port", "0", "--mqtt-port", "0", "--data-dir", Path.Combine(_workingDirectory.Path, "data"), "--Storage:Provider=postgres",
            "--Storage:ConnectionString=" + await postgres.CreateDatabaseAsync(), "--Storage:MigrateOnStart=true",
            "--Mqtt:MaximumQueuedMessages=100000", "--Logging:LogLevel:IoTHub.Broker=Warning"];
        var acknowledged = new AcknowledgedMessages();
        int closed;
        using (var host = HostProcess.Start(_workingDirectory.Path, arguments))
        {
            var endpoint = await host.WaitForMqttEndpointAsync();
            await SubscribeOfflineAsync(endpoint, "subscriber", ("restart/q1", QualityOfService.AtLeastOnce));

            var publishing = acknowledged.PublishAsync(endpoint, "publisher", "restart/q1", QualityOfService.AtLeastOnce, window: 32,
                connections: 10_000, messages: Messages);
            await Poll.UntilAsync(() => acknowledged.Qos1.Count >= Messages / 4, TimeSpan.FromSeconds(30));
            await postgres.RestartAsync();
            closed = await publishing.WaitAsync(TimeSpan.FromSeconds(40));
            Assert.True(closed > 0, "the restart closed no connection: it did not happen mid-stream");
            Assert.Equal(Messages, acknowledged.Qos1.Count);

            await host.KillAsync();
        }

        using var restarted = HostProcess.Start(_workingDirectory.Path, arguments);
        output.WriteLine($"postgres restart: {closed} connections closed; " +
            await acknowledged.AssertStoredAsync(await restarted.WaitForMqttEndpointAsync(), "subscriber", "restart/q1"));
    }

    /// <summary>Subscribes a persistent session to <paramref name="filters"/> and disconnects it.</summary>
    internal static async Task SubscribeOfflineAsync(IPEndPoint endpoint, string clientId, params (string Filter, QualityOfService Qos)[] filters)
    {
        await using var subscriber = await MqttTestClient.ConnectTcpAsync(endpoint, clientId, cleanStart: false);
        foreach (var (filter, qos) in filters)
        {
            await subscriber.SubscribeAsync(filter, qos);
        }

        await subscriber.DisconnectAsync();
    }

    public void Dispose() => _workingDirectory.Dispose();
}
