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
    private readonly List<(string Broker, ListenOptions Listen)> _mqtt = [];

    public IEnumerable<IPEndPoint> Http => _http.Select(static listen => listen.IPEndPoint!);

    /// <summary>Every MQTT listener with the name of the broker it serves.</summary>
    public IEnumerable<(string Broker, IPEndPoint Endpoint)> Mqtt => _mqtt.Select(static m => (m.Broker, m.Listen.IPEndPoint!));

    /// <summary>The name of an MQTT listener in metrics: its transport and the endpoint it holds, e.g. <c>tcp://127.0.0.1:1883</c>.</summary>
    public static string MqttName(IPEndPoint endpoint) => "tcp://" + endpoint;

    public void AddHttp(ListenOptions listen) => _http.Add(listen);

    public void AddMqtt(string broker, ListenOptions listen) => _mqtt.Add((broker, listen));
}
