using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace IoTHub.Web.Hosting;

/// <summary>
/// Kestrel's listeners by protocol, with the address each really bound once the server has started
/// (port 0 included). The server's address list cannot tell HTTP endpoints from MQTT ones.
/// </summary>
internal sealed class BoundListeners
{
    private readonly List<ListenOptions> _http = [];
    private readonly List<(string Broker, string Name, ListenOptions Listen)> _mqtt = [];

    public IEnumerable<IPEndPoint> Http => _http.Select(static listen => listen.IPEndPoint!);

    /// <summary>Every MQTT listener, with the broker it serves and its name in the configuration.</summary>
    public IEnumerable<BoundMqttListener> Mqtt => _mqtt.Select(static m => new BoundMqttListener(m.Broker, m.Name, m.Listen.IPEndPoint!));

    /// <summary>The name of an MQTT listener in metrics and the API: its URL, e.g. <c>tcp://127.0.0.1:1883</c>, with the port it really holds.</summary>
    public static string MqttName(IPEndPoint endpoint) => "tcp://" + endpoint;

    public void AddHttp(ListenOptions listen) => _http.Add(listen);

    public void AddMqtt(string broker, string name, ListenOptions listen) => _mqtt.Add((broker, name, listen));
}

/// <summary>An MQTT listener as bound: the broker it serves, its configured name ("default" for Address and Port), where it listens.</summary>
internal sealed record BoundMqttListener(string Broker, string Name, IPEndPoint Endpoint)
{
    public string Url => BoundListeners.MqttName(Endpoint);
}
