using System.IO.Pipelines;
using System.Net;
using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Messages;
using IoTHub.Mqtt;

namespace IoTHub.Testing;

/// <summary>
/// Many sessions made through the engine itself, without sockets: each is a real MQTT 5.0 client over in-memory pipes that
/// connects with a session that never expires, subscribes to its own topic at QoS 1 and disconnects, leaving an offline
/// session; then messages published to those topics fill their queues. For lists of 100 000 sessions.
/// </summary>
public static class SessionFleet
{
    /// <summary>Clients connecting at once while a fleet is made.</summary>
    private const int Parallel = 16;

    /// <summary>The client id of the <paramref name="index"/>-th session of a fleet: the prefix and the index in six digits, so ids sort as indexes do.</summary>
    public static string ClientId(string prefix, int index) => $"{prefix}{index:D6}";

    /// <summary>The topic the session of <paramref name="clientId"/> subscribes to.</summary>
    public static string TopicOf(string clientId) => "fleet/" + clientId;

    /// <summary>
    /// Makes <paramref name="count"/> offline sessions on <paramref name="broker"/>, then publishes <paramref name="queued"/>(index)
    /// QoS 1 messages to each, which wait in its queue.
    /// </summary>
    public static async Task CreateAsync(MqttBroker broker, string prefix, int count, Func<int, int> queued)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Parallel).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                var client = await ConnectAsync(broker, ClientId(prefix, i), i);
                await client.SubscribeAsync(TopicOf(ClientId(prefix, i)), QualityOfService.AtLeastOnce);
                await client.DisconnectAsync();
                await client.DisposeAsync();
            }
        })));

        for (var i = 0; i < count; i++)
        {
            var topic = TopicOf(ClientId(prefix, i));
            for (var m = queued(i); m > 0; m--)
            {
                broker.Publish(MqttMessage.Create(topic, "queued"u8, QualityOfService.AtLeastOnce, retain: false));
            }
        }
    }

    /// <summary>
    /// Connects one client over in-memory pipes (MQTT 5.0, its session never expires) from 127.0.0.1:(40000 + <paramref name="index"/> % 20000);
    /// it stays connected until disposed.
    /// </summary>
    public static async Task<MqttTestClient> ConnectAsync(MqttBroker broker, string clientId, int index)
    {
        var toBroker = new Pipe();
        var fromBroker = new Pipe();
        var remote = new IPEndPoint(IPAddress.Loopback, 40000 + (index % 20000));
        var served = broker.HandleConnectionAsync(new DuplexPipe(toBroker.Reader, fromBroker.Writer), new ConnectionInfo("fleet", TransportKind.Tcp, null, remote));
        var client = new MqttTestClient(toBroker.Writer, fromBroker.Reader, MqttProtocolVersion.V500, served);
        await client.ConnectAcceptedAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500,
            ClientId = clientId,
            CleanStart = false,
            Properties = new MqttProperties { SessionExpiryInterval = uint.MaxValue },
        });
        return client;
    }
}
