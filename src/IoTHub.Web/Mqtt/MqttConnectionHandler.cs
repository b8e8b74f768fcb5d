using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Security.Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace IoTHub.Web.Mqtt;

/// <summary>
/// Hands each connection of a tcp:// or tls:// listener to the broker that listener serves. It is registered
/// with the listener as a delegate carrying its broker (DESIGN §4), not by type, and the listener's name for metrics.
/// Over TLS the handshake is done by then, and the client's certificate (mutual TLS) goes to the broker with the connection,
/// with whether the listener takes user names from certificates.
/// </summary>
internal sealed class MqttConnectionHandler(MqttBroker broker, string listener, TransportKind transport, CertificateIdentity identity) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) =>
        broker.HandleConnectionAsync(connection.Transport,
            new Broker.Connections.ConnectionInfo(listener, transport, connection.LocalEndPoint, connection.RemoteEndPoint,
                connection.Features.Get<ITlsConnectionFeature>()?.ClientCertificate) { CertificateIdentity = identity });
}
