using IoTHub.Broker;
using IoTHub.Web.Hosting;
using IoTHub.Web.Mqtt;
using IoTHub.Web.Transports.Tls;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Listeners;

/// <summary>A server certificate a listener presents.</summary>
/// <param name="Subject">Its subject, e.g. CN=broker.example.com.</param>
/// <param name="HostNames">The DNS names it serves (SNI picks among a listener's certificates by them).</param>
/// <param name="NotAfter">When it expires (UTC).</param>
/// <param name="Thumbprint">Its SHA-1 thumbprint, as openssl and certificate stores show it.</param>
internal sealed record ListenerCertificate(string Subject, IReadOnlyList<string> HostNames, DateTimeOffset NotAfter, string Thumbprint);

/// <summary>The TLS settings of a listener.</summary>
/// <param name="Protocols">The TLS versions accepted, e.g. "Tls12, Tls13".</param>
/// <param name="ClientCertificates">None, Optional or Required (mutual TLS).</param>
/// <param name="Certificates">The certificates new handshakes get now (renewals included), the default (no SNI) first.</param>
internal sealed record ListenerTls(string Protocols, string ClientCertificates, IReadOnlyList<ListenerCertificate> Certificates);

/// <summary>One MQTT listener of a broker.</summary>
/// <param name="Name">Its name: "default" (Mqtt:Address and Mqtt:Port), "http" (MQTT over WebSocket on the HTTP endpoint), or the key of Mqtt:Listeners:{name}.</param>
/// <param name="Scheme">How it carries MQTT: tcp, tls, ws, wss, unix or detect.</param>
/// <param name="Url">Its URL with the port it really holds (a Unix socket's: unix:///path), as metrics and the clients API name it.</param>
/// <param name="Address">The IP address it binds, or a Unix socket's path.</param>
/// <param name="Port">The port it holds (0 while not bound); null for a Unix socket, which has none.</param>
/// <param name="Path">The WebSocket path of ws/wss/detect listeners; null for the others.</param>
/// <param name="Bound">Whether it holds its port (or its socket file).</param>
/// <param name="Tls">Its TLS settings and certificates; null without TLS (a detect listener without a certificate too).</param>
/// <param name="Connections">Its open connections that completed CONNECT.</param>
internal sealed record BrokerListener(string Name, string Scheme, string Url, string Address, int? Port, string? Path, bool Bound, ListenerTls? Tls, int Connections);

/// <summary>GET /api/v1/brokers/{name}/listeners: every listener of a broker, described from the bound listeners, whatever their scheme.</summary>
internal static class ListenersApi
{
    public static IEndpointRouteBuilder MapListenersApi(this IEndpointRouteBuilder api)
    {
        api.MapGet("/brokers/{name}/listeners", List).WithTags("Brokers").WithName("ListBrokerListeners")
            .WithSummary("Lists the MQTT listeners of one broker with their scheme, TLS settings, certificate expiry and connection count.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    /// <summary>The listeners of one broker, in the order of <see cref="BoundListeners.Mqtt"/>.</summary>
    public static List<BrokerListener> Describe(BoundListeners listeners, string brokerName, MqttBroker broker)
    {
        var counts = broker.CountConnections();
        return
        [
            .. listeners.Mqtt.Where(l => string.Equals(l.Broker, brokerName, StringComparison.OrdinalIgnoreCase)).Select(l =>
            {
                var url = l.Url;
                var connections = counts.Where(c => c.Key.Listener == url).Sum(static c => c.Value);
                return new BrokerListener(l.Name, l.Listener.Scheme.ToString().ToLowerInvariant(), url, l.Address, l.Port,
                    l.Listener.TakesWebSocket ? l.Listener.Path : null, l.IsBound, Tls(l), connections);
            }),
        ];
    }

    private static ListenerTls? Tls(BoundMqttListener listener) => listener is { Listener.Tls: { } tls, Certificates: { } certificates }
        ? new ListenerTls(tls.Protocols.ToString(), tls.ClientCertificates.ToString(), [.. certificates.Current.Select(Describe)])
        : null;

    private static ListenerCertificate Describe(ServerCertificate certificate) =>
        new(certificate.Certificate.Subject, certificate.HostNames, certificate.Certificate.NotAfter.ToUniversalTime(), certificate.Certificate.Thumbprint);

    private static Results<Ok<ResultPage<BrokerListener>>, ValidationProblem, ProblemHttpResult> List(BrokerRegistry registry, BoundListeners listeners,
        string name, [AsParameters] PageQuery paging)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        return registry.TryFind(name, out var resolved, out var broker, out var problem)
            ? TypedResults.Ok(paging.Apply(Describe(listeners, resolved, broker)))
            : problem;
    }
}
