using System.Buffers;
using System.Text;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests;

/// <summary>
/// An MQTTnet client connected to the host, with every application message it receives kept in order
/// (payload copied out of MQTTnet's buffers) and waits on them signalled, bounded by a timeout.
/// </summary>
internal sealed class MqttNetClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly Lock _lock = new();
    private readonly List<MqttApplicationMessage> _messages = [];
    private readonly List<ushort> _packetIds = [];
    private TaskCompletionSource _changed = NewSignal();

    private MqttNetClient(IMqttClient client)
    {
        Client = client;
        Client.ApplicationMessageReceivedAsync += OnMessageAsync;
    }

    public IMqttClient Client { get; }

    /// <summary>False: received QoS 1 and 2 messages are not acknowledged (no PUBACK / PUBREC), as if the application crashed first.</summary>
    public bool Acknowledge { get; set; } = true;

    /// <summary>The packet identifier of each received message, in order (0 at QoS 0).</summary>
    public IReadOnlyList<ushort> PacketIds
    {
        get
        {
            lock (_lock)
            {
                return [.. _packetIds];
            }
        }
    }

    /// <summary>How many application messages have arrived so far.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _messages.Count;
            }
        }
    }

    public MqttClientConnectResult ConnectResult { get; private set; } = null!;

    public IReadOnlyList<MqttApplicationMessage> ApplicationMessages
    {
        get
        {
            lock (_lock)
            {
                return [.. _messages];
            }
        }
    }

    public List<Received> Messages =>
        [.. ApplicationMessages.Select(m => new Received(m.Topic, Encoding.UTF8.GetString(m.Payload), (int)m.QualityOfServiceLevel, m.Retain, m.Dup))];

    /// <summary>
    /// Connects with Clean Session / Clean Start as asked; for 5.0 a Session Expiry Interval above 0 keeps the
    /// session after the connection ends ([MQTT-3.1.2-23]). <paramref name="transport"/> sets where and how to connect
    /// (TLS, WebSocket); the host's plain TCP listener when null.
    /// </summary>
    public static async Task<MqttNetClient> ConnectAsync(InteropHost host, Protocol protocol, string clientId, bool clean = true, uint sessionExpiry = 0,
        string? userName = null, string? password = null, Func<MqttClientOptionsBuilder, MqttClientOptionsBuilder>? transport = null)
    {
        var client = new MqttNetClient(new MqttClientFactory().CreateMqttClient());
        var options = Options(host, protocol, clientId, userName, password, transport);
        options = protocol == Protocol.V500
            ? options.WithCleanStart(clean).WithSessionExpiryInterval(sessionExpiry)
            : options.WithCleanSession(clean);
        try
        {
            client.ConnectResult = await client.Client.ConnectAsync(options.Build());
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }

        Assert.Equal(MqttClientConnectResultCode.Success, client.ConnectResult.ResultCode);
        return client;
    }

    /// <summary>
    /// The options of a connection to the host, with a user name and password when given: over <paramref name="transport"/>
    /// (TLS, WebSocket), or to the host's plain TCP listener when null.
    /// </summary>
    public static MqttClientOptionsBuilder Options(InteropHost host, Protocol protocol, string clientId, string? userName = null, string? password = null,
        Func<MqttClientOptionsBuilder, MqttClientOptionsBuilder>? transport = null)
    {
        var options = (transport ?? (builder => builder.WithTcpServer(host.Host, host.Port)))(new MqttClientOptionsBuilder())
            .WithProtocolVersion(protocol == Protocol.V500 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311)
            .WithClientId(clientId)
            .WithTimeout(Timeout);
        return userName is null ? options : options.WithCredentials(userName, password);
    }

    /// <summary>Connects, expecting a refusal, and returns the CONNACK as MQTTnet read it.</summary>
    public static async Task<MqttClientConnectResult> RefusedAsync(MqttClientOptionsBuilder options)
    {
        var result = await AnswerAsync(options);
        Assert.NotEqual(MqttClientConnectResultCode.Success, result.ResultCode);
        return result;
    }

    /// <summary>
    /// Connects and returns the CONNACK as MQTTnet read it, disconnecting again when accepted. A refused connect MQTTnet 5
    /// either returns or throws, and then hands the CONNACK to the Disconnected event.
    /// </summary>
    public static async Task<MqttClientConnectResult> AnswerAsync(MqttClientOptionsBuilder options)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        MqttClientConnectResult? seen = null;
        client.DisconnectedAsync += e =>
        {
            seen ??= e.ConnectResult;
            return Task.CompletedTask;
        };
        try
        {
            seen = await client.ConnectAsync(options.Build());
        }
        catch (MqttConnectingFailedException)
        {
            // The CONNACK came with the Disconnected event.
        }

        Assert.NotNull(seen);
        if (client.IsConnected)
        {
            await client.DisconnectAsync();
        }

        return seen;
    }

    public async Task SubscribeAsync(string filter, int qos)
    {
        var result = await Client.SubscribeAsync(filter, (MqttQualityOfServiceLevel)qos);
        Assert.Equal(qos, (int)result.Items.Single().ResultCode); // granted QoS: this broker grants what is asked
    }

    public async Task PublishAsync(string topic, string payload, int qos, bool retain = false)
    {
        var result = await Client.PublishStringAsync(topic, payload, (MqttQualityOfServiceLevel)qos, retain);
        Assert.True(result.IsSuccess, $"publish to {topic}: {result.ReasonCode} {result.ReasonString}");
    }

    /// <summary>Waits until <paramref name="count"/> messages in all have arrived and returns them.</summary>
    public async Task<List<Received>> WaitForMessagesAsync(int count, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? Timeout);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_messages.Count >= count)
                {
                    break;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{Client.Options.ClientId}: {_messages.Count} of {count} messages within {timeout ?? Timeout}: "
                    + string.Join(", ", Messages.Select(m => m.Summary)));
            }
        }

        return Messages;
    }

    /// <summary>Ends the connection with DISCONNECT, leaving a persistent session behind.</summary>
    public Task DisconnectAsync() => Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build());

    public async ValueTask DisposeAsync()
    {
        if (Client.IsConnected)
        {
            await Client.TryDisconnectAsync();
        }

        Client.Dispose();
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var message = e.ApplicationMessage;
        e.AutoAcknowledge = Acknowledge;

        // MQTTnet may reuse the payload's buffer once the handler returns.
        message.Payload = new ReadOnlySequence<byte>(message.Payload.ToArray());
        TaskCompletionSource changed;
        lock (_lock)
        {
            _messages.Add(message);
            _packetIds.Add(e.PacketIdentifier);
            changed = _changed;
            _changed = NewSignal();
        }

        changed.TrySetResult();
        return Task.CompletedTask;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
