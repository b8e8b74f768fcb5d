using IoTHub.Broker;
using IoTHub.Broker.Connections;
using Microsoft.AspNetCore.Connections;

namespace IoTHub.Web.Mqtt;

/// <summary>
/// Hands each connection of an MQTT listener to the broker that listener serves. It is registered
/// with the listener as a delegate carrying its broker (DESIGN §4), not by type, and the listener's name for metrics.
/// </summary>
internal sealed class MqttConnectionHandler(MqttBroker broker, string listener) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) =>
        broker.HandleConnectionAsync(connection.Transport,
            new Broker.Connections.ConnectionInfo(listener, TransportKind.Tcp, connection.LocalEndPoint, connection.RemoteEndPoint));
}
