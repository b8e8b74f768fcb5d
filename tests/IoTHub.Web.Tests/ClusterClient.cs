using System.Buffers;
using System.Net;
using System.Text;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace IoTHub.Web.Tests;

/// <summary>An MQTTnet 5.0 client of one cluster node that keeps what it receives (payloads copied out of MQTTnet's buffers), in order.</summary>
internal sealed class ClusterClient : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly List<Message> _received = [];
    private readonly TaskCompletionSource<MqttClientDisconnectReason> _disconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ClusterClient(IMqttClient client)
    {
        Client = client;
        Client.ApplicationMessageReceivedAsync += e =>
        {
            var m = e.ApplicationMessage;
            lock (_lock)
            {
                _received.Add(new Message(m.Topic, Encoding.UTF8.GetString(m.Payload.ToArray()), m.QualityOfServiceLevel, m.Retain, m.ContentType,
                    m.ResponseTopic, m.CorrelationData, m.UserProperties is null ? null : [.. m.UserProperties.Select(p => (p.Name, p.ReadValueAsString()))],
                    m.MessageExpiryInterval));
            }

            return Task.CompletedTask;
        };
        Client.DisconnectedAsync += e =>
        {
            _disconnected.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };
    }

    public IMqttClient Client { get; }

    /// <summary>Completes with the reason of the first disconnection (a server's DISCONNECT reason code, or how the connection ended).</summary>
    public Task<MqttClientDisconnectReason> Disconnected => _disconnected.Task;

    public IReadOnlyList<Message> Received
    {
        get
        {
            lock (_lock)
            {
                return [.. _received];
            }
        }
    }

    public List<string> Payloads => [.. Received.Select(m => m.Payload)];

    public static async Task<ClusterClient> ConnectAsync(IPEndPoint node, string clientId)
    {
        var client = new ClusterClient(new MqttClientFactory().CreateMqttClient());
        await client.Client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(node.Address.ToString(), node.Port).WithClientId(clientId)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithCleanStart(true).WithTimeout(MqttTestClient.Timeout).Build());
        return client;
    }

    public Task SubscribeAsync(string filter, bool retainAsPublished = false) =>
        Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(filter, MqttQualityOfServiceLevel.ExactlyOnce, retainAsPublished: retainAsPublished).Build());

    public Task UnsubscribeAsync(string filter) => Client.UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter(filter).Build());

    /// <summary>Publishes and waits for its acknowledgement; with <paramref name="withProperties"/> the MQTT 5 properties a subscriber must get.</summary>
    public async Task PublishAsync(string topic, string payload, MqttQualityOfServiceLevel qos, bool retain = false, bool withProperties = false)
    {
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).WithRetainFlag(retain);
        if (withProperties)
        {
            message = message.WithContentType("text/plain").WithResponseTopic("reply/to").WithCorrelationData([7, 8, 9])
                .WithUserProperty("origin", Encoding.UTF8.GetBytes("node-a")).WithMessageExpiryInterval(300);
        }

        var result = await Client.PublishAsync(message.Build());
        Assert.True(result.IsSuccess, $"{topic}: {result.ReasonCode}");
    }

    public Task UntilAsync(string payload) =>
        Poll.UntilAsync(() => Task.FromResult(Payloads.Contains(payload)), MqttTestClient.Timeout, $"{payload} did not arrive");

    public async ValueTask DisposeAsync()
    {
        if (Client.IsConnected)
        {
            await Client.DisconnectAsync();
        }

        Client.Dispose();
    }

    internal sealed record Message(string Topic, string Payload, MqttQualityOfServiceLevel QualityOfServiceLevel, bool Retain, string? ContentType,
        string? ResponseTopic, byte[]? CorrelationData, List<(string Name, string Value)>? UserProperties, uint MessageExpiryInterval);
}
