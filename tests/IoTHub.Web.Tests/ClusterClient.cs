using System.Buffers;
using System.Net;
using System.Text;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace IoTHub.Web.Tests;

/// <summary>
/// An MQTTnet client (5.0 unless told) of one cluster node that keeps what it receives (payloads copied out of MQTTnet's buffers), in
/// order, and why the server disconnected it.
/// </summary>
internal sealed class ClusterClient : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly List<Message> _received = [];
    private readonly TaskCompletionSource<MqttClientDisconnectReason> _disconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ClusterClient(IMqttClient client, bool acknowledge)
    {
        Client = client;
        Client.ApplicationMessageReceivedAsync += e =>
        {
            // Not acknowledged: a QoS 1 or 2 message stays in flight at the server.
            e.AutoAcknowledge = acknowledge;
            var m = e.ApplicationMessage;
            lock (_lock)
            {
                _received.Add(new Message(m.Topic, Encoding.UTF8.GetString(m.Payload.ToArray()), m.QualityOfServiceLevel, m.Retain, m.ContentType,
                    m.ResponseTopic, m.CorrelationData, m.UserProperties is null ? null : [.. m.UserProperties.Select(p => (p.Name, p.ReadValueAsString()))],
                    m.MessageExpiryInterval, m.Dup));
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

    /// <summary>The CONNACK's Session Present flag.</summary>
    public bool SessionPresent { get; private set; }

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

    /// <summary>Connects; a persistent session needs <paramref name="cleanStart"/> false and a <paramref name="sessionExpiry"/> (5.0) above 0.</summary>
    /// <param name="acknowledge">False: QoS 1 and 2 messages are never acknowledged, and stay in flight at the server.</param>
    public static async Task<ClusterClient> ConnectAsync(IPEndPoint node, string clientId, bool cleanStart = true, uint sessionExpiry = 0,
        bool acknowledge = true, MqttProtocolVersion version = MqttProtocolVersion.V500)
    {
        var client = new ClusterClient(new MqttClientFactory().CreateMqttClient(), acknowledge);
        try
        {
            var result = await client.Client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(node.Address.ToString(), node.Port).WithClientId(clientId)
                .WithProtocolVersion(version).WithCleanStart(cleanStart).WithSessionExpiryInterval(sessionExpiry).WithTimeout(MqttTestClient.Timeout).Build());
            client.SessionPresent = result.IsSessionPresent;
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Connects a persistent 5.0 session to <paramref name="node"/> again and again while it is refused (Server unavailable: the session
    /// is still owned by a node not yet declared dead, or its arbiter not found again), until accepted within <paramref name="bound"/>.
    /// MQTTnet's exception does not carry the CONNACK, so any failed connect is tried again.
    /// </summary>
    public static async Task<ClusterClient> ConnectOnceAcceptedAsync(IPEndPoint node, string clientId, uint sessionExpiry, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            try
            {
                return await ConnectAsync(node, clientId, cleanStart: false, sessionExpiry);
            }
            catch (MqttConnectingFailedException) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }

    /// <summary>
    /// Connects a persistent 5.0 session and returns CONNACK as MQTTnet read it, disconnecting again when accepted; a refusal MQTTnet
    /// throws, and hands its CONNACK to the Disconnected event.
    /// </summary>
    public static async Task<MqttClientConnectResult> AnswerAsync(IPEndPoint node, string clientId, uint sessionExpiry)
    {
        await using var client = new ClusterClient(new MqttClientFactory().CreateMqttClient(), acknowledge: true);
        MqttClientConnectResult? answer = null;
        client.Client.DisconnectedAsync += e =>
        {
            answer ??= e.ConnectResult;
            return Task.CompletedTask;
        };
        try
        {
            answer = await client.Client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(node.Address.ToString(), node.Port)
                .WithClientId(clientId).WithProtocolVersion(MqttProtocolVersion.V500).WithCleanStart(false).WithSessionExpiryInterval(sessionExpiry)
                .WithTimeout(MqttTestClient.Timeout).Build());
        }
        catch (MqttConnectingFailedException)
        {
        }

        Assert.NotNull(answer);
        return answer;
    }

    public Task SubscribeAsync(string filter, bool retainAsPublished = false, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.ExactlyOnce) =>
        Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(filter, qos, retainAsPublished: retainAsPublished).Build());

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
        string? ResponseTopic, byte[]? CorrelationData, List<(string Name, string Value)>? UserProperties, uint MessageExpiryInterval, bool Duplicate);
}
