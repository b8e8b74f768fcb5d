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
    private readonly List<ListenOptions> _mqtt = [];

    public IEnumerable<IPEndPoint> Http => _http.Select(static listen => listen.IPEndPoint!);

    public IEnumerable<IPEndPoint> Mqtt => _mqtt.Select(static listen => listen.IPEndPoint!);

    public void AddHttp(ListenOptions listen) => _http.Add(listen);

    public void AddMqtt(ListenOptions listen) => _mqtt.Add(listen);
}
