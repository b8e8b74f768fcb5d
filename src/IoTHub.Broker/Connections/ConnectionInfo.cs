using System.Net;
using System.Security.Cryptography.X509Certificates;
using IoTHub.Broker.Security.Certificates;

namespace IoTHub.Broker.Connections;

/// <summary>How a connection reached the broker.</summary>
public enum TransportKind
{
    Tcp,
    Tls,
    WebSocket,
    SecureWebSocket,
    Unix,
}

/// <summary>
/// How a client came in, handed to the engine with its connection by the transport: the listener that accepted it
/// (its URL, e.g. <c>tcp://127.0.0.1:1883</c>), the transport, both ends, and the TLS client certificate when the
/// client presented one. Authentication and the admin API read it; the engine itself only names the connection by it.
/// </summary>
public sealed record ConnectionInfo(
    string Listener,
    TransportKind Transport,
    EndPoint? LocalEndPoint,
    EndPoint? RemoteEndPoint,
    X509Certificate2? ClientCertificate = null)
{
    /// <summary>The client's address as logs and the admin API show it.</summary>
    public string Endpoint { get; } = RemoteEndPoint?.ToString() ?? "unknown";

    /// <summary>
    /// The listener's own rule for clients without credentials (as Mosquitto's per_listener_settings), which the
    /// authentication chain follows instead of its own; null: the chain's.
    /// </summary>
    public bool? AllowAnonymous { get; init; }

    /// <summary>Whether the listener takes user names from client certificates instead of CONNECT (docs/security.md).</summary>
    public CertificateIdentity CertificateIdentity { get; init; }

    /// <summary>The user name the client goes by: the identity of its certificate where the listener says so (null without one), else the one it sent.</summary>
    public string? UserName(string? sent) => CertificateIdentity == CertificateIdentity.None ? sent : CertificateIdentities.Read(ClientCertificate, CertificateIdentity);
}
