using System.Net;
using IoTHub.Broker.Connections;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Security;

/// <summary>What a client presented in CONNECT, and how it came in: what an authenticator decides on.</summary>
/// <param name="ClientId">The client id, or the one the broker assigned when the client sent none.</param>
/// <param name="Password">Null when CONNECT carried no password (not the same as an empty one).</param>
public sealed record ConnectRequest(
    string ClientId,
    string? UserName,
    byte[]? Password,
    MqttProtocolVersion ProtocolVersion,
    ConnectionInfo Connection)
{
    /// <summary>MQTT 5.0 enhanced authentication (CONNECT with an Authentication Method, or AUTH); null for a plain login.</summary>
    public AuthenticationExchange? Authentication { get; init; }

    /// <summary>The user the client logs in as: the exchange's once known, else the CONNECT's.</summary>
    public string? LoginName => Authentication?.UserName ?? UserName;

    /// <summary>The client's IP address, without the port (an IPv4 client of a dual-stack listener as IPv4); null on a Unix socket.</summary>
    public IPAddress? PeerAddress => (Connection.RemoteEndPoint as IPEndPoint)?.Address is { } address
        ? address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address
        : null;
}
