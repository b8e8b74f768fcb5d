using System.Net;
using IoTHub.Web.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace IoTHub.Web.Hosting;

/// <summary>
/// Kestrel's listeners by protocol, with the address each really bound once the server has started
/// (port 0 included). The server's address list cannot tell HTTP endpoints from MQTT ones.
/// </summary>
internal sealed class BoundListeners
{
    private readonly List<ListenOptions> _http = [];
    private readonly List<(string Broker, MqttListenerUrl Listener, ListenOptions Listen)> _mqtt = [];

    public IEnumerable<IPEndPoint> Http => _http.Select(static listen => listen.IPEndPoint!);

    /// <summary>Every MQTT listener, with the broker it serves and its settings.</summary>
    public IEnumerable<BoundMqttListener> Mqtt => _mqtt.Select(static m => new BoundMqttListener(m.Broker, m.Listener, m.Listen.EndPoint));

    public void AddHttp(ListenOptions listen) => _http.Add(listen);

    public void AddMqtt(string broker, MqttListenerUrl listener, ListenOptions listen) => _mqtt.Add((broker, listener, listen));

    /// <summary>The ws://, wss:// or detect:// listener bound to <paramref name="port"/>, if any (no two listeners share a port).</summary>
    public BoundMqttListener? WebSocketAt(int port)
    {
        foreach (var (broker, listener, listen) in _mqtt)
        {
            if (listener.TakesWebSocket && listen.IPEndPoint is { } bound && bound.Port == port)
            {
                return new BoundMqttListener(broker, listener, bound);
            }
        }

        return null;
    }
}

/// <summary>
/// An MQTT listener as bound: the broker it serves, its configuration (name "default" for Address and Port), where it
/// listens (an IP end point, or a Unix socket's path).
/// </summary>
internal sealed record BoundMqttListener(string Broker, MqttListenerUrl Listener, EndPoint Endpoint)
{
    public string Name => Listener.Name;

    /// <summary>Its name in metrics and the API: its URL, e.g. <c>tcp://127.0.0.1:1883</c>, with the port it really holds.</summary>
    public string Url => Listener.Format(Endpoint);
}
