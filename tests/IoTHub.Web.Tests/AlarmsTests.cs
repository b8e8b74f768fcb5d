using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Broker;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Web.Tests;

/// <summary>
/// A broker with room for 10 connections and 10 queued messages per session, and two tls listeners: "soon" on a certificate
/// that expires in 5 days, "later" on one that expires in 60.
/// </summary>
public sealed class AlarmHost() : CertificatesHost(Settings)
{
    private static Dictionary<string, string> Settings(TestCertificates certificates)
    {
        var soon = certificates.Server("soon", notAfter: DateTimeOffset.UtcNow.AddDays(5));
        var later = certificates.Server("later", notAfter: DateTimeOffset.UtcNow.AddDays(60));
        return new()
        {
            ["Mqtt:MaximumConnections"] = "10",
            ["Mqtt:MaximumQueuedMessages"] = "10",
            ["Mqtt:Listeners:soon:Url"] = "tls://127.0.0.1:0",
            ["Mqtt:Listeners:soon:Certificate"] = soon.Certificate,
            ["Mqtt:Listeners:soon:CertificateKey"] = soon.Key,
            ["Mqtt:Listeners:later:Url"] = "tls://127.0.0.1:0",
            ["Mqtt:Listeners:later:Certificate"] = later.Certificate,
            ["Mqtt:Listeners:later:CertificateKey"] = later.Key,
        };
    }
}

/// <summary>GET /api/v1/alarms and iothub_alarms_active with the real conditions: clients, a queue, certificates. Runs alone: it reads metrics.</summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class AlarmsTests(AlarmHost host) : IClassFixture<AlarmHost>
{
    [Fact]
    public async Task Alarms_are_raised_and_cleared_by_real_conditions()
    {
        var viewer = await host.ViewerAsync();
        var soon = host.MqttListeners.Single(static l => l.Name == "soon").Url;
        host.SampleNow();

        // Only the certificate that expires in 5 days is an alarm at first.
        var alarms = await viewer.GetFromJsonAsync<JsonElement>("/api/v1/alarms");
        Assert.Equal([("certificate_expiring", soon)], Active(alarms));
        Assert.Contains("expires at", alarms.GetProperty("active")[0].GetProperty("detail").GetString(), StringComparison.Ordinal);
        var metrics = await MetricsScrape.ReadAsync(host.Client);
        Assert.Equal((1, 0, 0, 0), (metrics[Series("certificate_expiring")], metrics[Series("connections_high")], metrics[Series("session_queue_high")],
            metrics[Series("storage_write_errors")]));

        // 9 connections of at most 10.
        List<MqttTestClient> clients = [];
        try
        {
            for (var i = 0; i < 8; i++)
            {
                clients.Add(await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, $"alarm-client-{i}"));
            }

            // A persistent session, offline, with 9 of its 10 queued messages, published by the ninth client.
            await using (var device = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "alarm-offline-device", cleanStart: false))
            {
                await device.SubscribeAsync("alarm/device", QualityOfService.AtLeastOnce);
                await device.DisconnectAsync();
            }

            var broker = host.Services.GetRequiredService<MqttBroker>();
            await Poll.UntilAsync(() => broker.GetSessions().Any(static s => s is { ClientId: "alarm-offline-device", IsConnected: false }));
            clients.Add(await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "alarm-publisher"));
            for (var i = 0; i < 9; i++)
            {
                await clients[^1].PublishAsync("alarm/device", "reading", QualityOfService.AtLeastOnce);
            }

            await Poll.UntilAsync(() => broker.GetSessions().Any(static s => s is { ClientId: "alarm-offline-device", QueuedMessages: 9 }));
            await Poll.UntilAsync(() => broker.ConnectionCount == 9);
            host.SampleNow();

            alarms = await viewer.GetFromJsonAsync<JsonElement>("/api/v1/alarms");
            Assert.Equal([("certificate_expiring", soon), ("connections_high", "default"), ("session_queue_high", "default")], Active(alarms).Order());
            Assert.Contains("Sessions holding 90 % or more of Mqtt:MaximumQueuedMessages (10): 1; the fullest: 'alarm-offline-device' with 9.",
                alarms.GetProperty("active").EnumerateArray().Select(static a => a.GetProperty("detail").GetString()));
            metrics = await MetricsScrape.ReadAsync(host.Client);
            Assert.Equal((1, 1, 1), (metrics[Series("certificate_expiring")], metrics[Series("connections_high")], metrics[Series("session_queue_high")]));

            // Two clients leave: 7 connections, below 90 %; the connections alarm clears, into the history.
            foreach (var client in clients[..2])
            {
                await client.DisconnectAsync();
            }

            await Poll.UntilAsync(() => broker.ConnectionCount == 7);
            host.SampleNow();
            alarms = await viewer.GetFromJsonAsync<JsonElement>("/api/v1/alarms");
            Assert.DoesNotContain(("connections_high", "default"), Active(alarms));
            var cleared = Assert.Single(alarms.GetProperty("history").EnumerateArray());
            Assert.Equal("connections_high", cleared.GetProperty("name").GetString());
            Assert.True(cleared.GetProperty("clearedAt").GetDateTimeOffset() >= cleared.GetProperty("raisedAt").GetDateTimeOffset());
            Assert.Equal(0, (await MetricsScrape.ReadAsync(host.Client))[Series("connections_high")]);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    private static string Series(string name) => $"iothub_alarms_active{{name=\"{name}\"}}";

    private static List<(string?, string?)> Active(JsonElement alarms) =>
        [.. alarms.GetProperty("active").EnumerateArray().Select(static a => (a.GetProperty("name").GetString(), a.GetProperty("subject").GetString()))];
}
