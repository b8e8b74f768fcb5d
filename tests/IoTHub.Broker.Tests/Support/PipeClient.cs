using System.IO.Pipelines;
using IoTHub.Broker.Connections;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests.Support;

/// <summary>Test clients of the engine over in-memory pipes: no sockets.</summary>
internal static class PipeClient
{
    public static readonly TimeSpan Timeout = MqttTestClient.Timeout;

    /// <summary>What the engine is told of an in-memory connection: listener "pipe", no addresses.</summary>
    public static readonly ConnectionInfo Connection = new("pipe", TransportKind.Tcp, LocalEndPoint: null, RemoteEndPoint: null);

    /// <summary>Opens the pipe without sending anything, for tests of the first packet; <paramref name="connection"/>: how it came in, if not <see cref="Connection"/>.</summary>
    public static MqttTestClient Open(MqttBroker broker, MqttProtocolVersion version = MqttProtocolVersion.V311, PipeOptions? fromBrokerOptions = null,
        ConnectionInfo? connection = null) =>
        Create(broker, version, fromBrokerOptions, reads: true, connection);

    /// <summary>A client that never reads what the broker sends: its pipe fills up like a stuck socket.</summary>
    public static MqttTestClient OpenWithoutReading(MqttBroker broker, PipeOptions fromBrokerOptions) =>
        Create(broker, MqttProtocolVersion.V311, fromBrokerOptions, reads: false);

    /// <summary>Connects and returns the client once CONNACK accepted it.</summary>
    public static async Task<MqttTestClient> ConnectAsync(MqttBroker broker, string clientId, MqttProtocolVersion version = MqttProtocolVersion.V311,
        bool cleanStart = true, ushort keepAlive = 0, MqttProperties? properties = null)
    {
        var client = Open(broker, version);
        await client.ConnectAcceptedAsync(new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = clientId,
            CleanStart = cleanStart,
            KeepAlive = keepAlive,
            Properties = properties,
        });
        return client;
    }

    private static MqttTestClient Create(MqttBroker broker, MqttProtocolVersion version, PipeOptions? fromBrokerOptions, bool reads, ConnectionInfo? connection = null)
    {
        var toBroker = new Pipe();
        var fromBroker = new Pipe(fromBrokerOptions ?? PipeOptions.Default);
        var brokerTask = broker.HandleConnectionAsync(new DuplexPipe(toBroker.Reader, fromBroker.Writer), connection ?? Connection);
        return new MqttTestClient(toBroker.Writer, fromBroker.Reader, version, brokerTask, reads);
    }
}
