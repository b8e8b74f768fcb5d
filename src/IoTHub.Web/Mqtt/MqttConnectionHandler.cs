using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Security.Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace IoTHub.Web.Mqtt;

/// <summary>
/// Hands each MQTT connection of a tcp://, tls://, unix:// or detect:// listener to the broker that listener serves. It is
/// registered with the listener as a delegate carrying its broker (DESIGN §4), not by type, and the listener's name for
/// metrics. Over TLS the handshake is done by then: the transport is TLS, and the client's certificate (mutual TLS) goes
/// to the broker with the connection, as do the listener's own rule for anonymous clients and whether it takes user names
/// from certificates.
/// </summary>
internal sealed class MqttConnectionHandler(MqttBroker broker, string listener, TransportKind plain, bool? allowAnonymous, CertificateIdentity identity)
    : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection)
    {
        var tls = connection.Features.Get<ITlsConnectionFeature>();
        return broker.HandleConnectionAsync(connection.Transport,
            new Broker.Connections.ConnectionInfo(listener, tls is null ? plain : TransportKind.Tls, connection.LocalEndPoint, connection.RemoteEndPoint,
                tls?.ClientCertificate) { AllowAnonymous = allowAnonymous, CertificateIdentity = identity });
    }
}
