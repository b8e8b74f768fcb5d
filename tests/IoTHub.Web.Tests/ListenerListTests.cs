using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>A host whose default broker has a second listener, "second", configured by URL.</summary>
public sealed class TwoListenerHost() : AdminApiHost(new Dictionary<string, string> { ["Mqtt:Listeners:second:Url"] = "tcp://127.0.0.1:0" });

/// <summary>Several listeners serve one broker (Mqtt:Listeners:{name}:Url, issue 14); the API and metrics name each by its URL.</summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class ListenerListTests(TwoListenerHost host) : IClassFixture<TwoListenerHost>
{
    [Fact]
    public async Task Clients_of_both_listeners_reach_the_same_broker()
    {
        var second = (IPEndPoint)host.MqttListeners.Single(static l => l.Name == "second").Endpoint;
        Assert.NotEqual(host.MqttEndpoint.Port, second.Port);

        await using var subscriber = await MqttTestClient.ConnectTcpAsync(second, "on-second");
        await subscriber.SubscribeAsync("across/#");
        await using var publisher = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "on-default");
        await publisher.PublishAndWaitAsync("across/listeners", "hello");
        Assert.Equal("hello", (await subscriber.ExpectPublishAsync()).PayloadText);

        var admin = await host.AdminAsync();
        var listeners = await admin.GetFromJsonAsync<JsonElement>("/api/v1/listeners?protocol=mqtt");
        Assert.Equal(
            [("default", $"tcp://{host.MqttEndpoint}"), ("http", $"ws://127.0.0.1:{host.BaseAddress.Port}/mqtt"), ("second", $"tcp://{second}")],
            listeners.GetProperty("items").EnumerateArray().Select(static l => (l.GetProperty("name").GetString(), l.GetProperty("url").GetString())).Order());

        var metrics = await MetricsScrape.ReadAsync(host.Client);
        Assert.Equal(1, metrics[$"iothub_connections{{broker=\"default\",listener=\"tcp://{second}\",protocol=\"3.1.1\"}}"]);
        Assert.Equal(1, metrics[$"iothub_connections{{broker=\"default\",listener=\"tcp://{host.MqttEndpoint}\",protocol=\"3.1.1\"}}"]);
    }
}
