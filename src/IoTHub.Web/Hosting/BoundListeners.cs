using System.Net;
using IoTHub.Web.Configuration;
using IoTHub.Web.Transports.Tls;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace IoTHub.Web.Hosting;

/// <summary>
/// Kestrel's listeners by protocol, with the address each really bound once the server has started
/// (port 0 included), and the certificates of the TLS ones as they are now (reloads included). The
/// server's address list cannot tell HTTP endpoints from MQTT ones.
/// </summary>
internal sealed class BoundListeners
{
    private readonly List<(ListenOptions Listen, string Scheme, ServerCertificates? Certificates)> _http = [];
    private readonly List<(string Broker, MqttListenerUrl Listener, ListenOptions Listen, ServerCertificates? Certificates, bool OnHttpEndpoint)> _mqtt = [];

    public IEnumerable<BoundHttpListener> Http => _http.Select(static h => new BoundHttpListener(h.Listen.IPEndPoint!, h.Scheme, h.Certificates));

    /// <summary>Every MQTT listener, with the broker it serves and its settings; MQTT over WebSocket on the HTTP endpoint last.</summary>
    public IEnumerable<BoundMqttListener> Mqtt => _mqtt.OrderBy(static m => m.OnHttpEndpoint).Select(static m => Bound(m));

    public void AddHttp(ListenOptions listen, string scheme, ServerCertificates? certificates) => _http.Add((listen, scheme, certificates));

    /// <summary>An MQTT listener; <paramref name="onHttpEndpoint"/> for the WebSocket path the HTTP endpoint serves besides the dashboard.</summary>
    public void AddMqtt(string broker, MqttListenerUrl listener, ListenOptions listen, ServerCertificates? certificates, bool onHttpEndpoint = false) =>
        _mqtt.Add((broker, listener, listen, certificates, onHttpEndpoint));

    /// <summary>The MQTT over WebSocket path of the HTTP endpoint ("Http:MqttPath"), if it serves one.</summary>
    public BoundMqttListener? OnHttpEndpoint => _mqtt.Where(static m => m.OnHttpEndpoint).Select(static m => Bound(m)).FirstOrDefault();

    /// <summary>The ws://, wss:// or detect:// listener bound to <paramref name="port"/>, if any (no two listeners share a port).</summary>
    public BoundMqttListener? WebSocketAt(int port)
    {
        foreach (var entry in _mqtt)
        {
            if (entry.Listener.TakesWebSocket && !entry.OnHttpEndpoint && entry.Listen.IPEndPoint is { } bound && bound.Port == port)
            {
                return Bound(entry);
            }
        }

        return null;
    }

    private static BoundMqttListener Bound((string Broker, MqttListenerUrl Listener, ListenOptions Listen, ServerCertificates? Certificates, bool OnHttpEndpoint) entry) =>
        new(entry.Broker, entry.Listener, entry.Listen.EndPoint, entry.Certificates, entry.OnHttpEndpoint);
}

/// <summary>The HTTP endpoint as bound: where it listens, "http" or "https", and its certificates over HTTPS.</summary>
internal sealed record BoundHttpListener(IPEndPoint Endpoint, string Scheme, ServerCertificates? Certificates)
{
    public string Url => $"{Scheme}://{Endpoint}";
}

/// <summary>
/// An MQTT listener as bound: the broker it serves, its configuration (name "default" for Address and Port), where it
/// listens (an IP end point, or a Unix socket's path), for TLS its certificates, and whether it is the MQTT over WebSocket
/// path of the HTTP endpoint.
/// </summary>
internal sealed record BoundMqttListener(string Broker, MqttListenerUrl Listener, EndPoint Endpoint, ServerCertificates? Certificates = null,
    bool OnHttpEndpoint = false)
{
    public string Name => Listener.Name;

    /// <summary>
    /// Its name in metrics and the API: its URL, e.g. <c>tcp://127.0.0.1:1883</c>, with the port it really holds, or
    /// <c>unix:///run/iothub/mqtt.sock</c>.
    /// </summary>
    public string Url => Listener.Format(Endpoint);

    /// <summary>The IP address it binds, or a Unix socket's path.</summary>
    public string Address => Endpoint is IPEndPoint ip ? ip.Address.ToString() : Listener.Unix?.Path ?? Endpoint.ToString() ?? string.Empty;

    /// <summary>The port it holds (0 while not bound); null for a Unix socket, which has none.</summary>
    public int? Port => (Endpoint as IPEndPoint)?.Port;

    /// <summary>Whether it holds its port; a Unix socket's file is bound with the server.</summary>
    public bool IsBound => Endpoint is not IPEndPoint { Port: 0 };
}
