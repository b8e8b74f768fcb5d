using System.ComponentModel;
using IoTHub.Broker;
using IoTHub.Web.Hosting;
using IoTHub.Web.Mqtt;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace IoTHub.Web.Api.Brokers;

/// <summary>One listener of the server.</summary>
/// <param name="Protocol">"http" (admin API, dashboard, health, metrics) or "mqtt".</param>
/// <param name="Broker">The broker an MQTT listener serves; null for HTTP.</param>
/// <param name="Address">The IP address it binds, or a Unix socket's path.</param>
/// <param name="Port">The port it holds (the real one when configured as 0); 0 while not bound; null for a Unix socket, which has none.</param>
/// <param name="Bound">Whether it holds its port (or its socket file).</param>
/// <param name="Name">An MQTT listener's name in the configuration: "default" for Mqtt:Address and Mqtt:Port, the key of
/// Mqtt:Listeners:{name}:Url otherwise; "http" for the HTTP listener.</param>
/// <param name="Url">Where it listens, as metrics name it: tcp://127.0.0.1:1883 or unix:///run/iothub/mqtt.sock (http://... for HTTP), with the real port.</param>
internal sealed record ListenerInfo(string Protocol, string? Broker, string Address, int? Port, bool Bound, string Name, string Url);

/// <summary>One isolated broker with its state.</summary>
/// <param name="Name">The name used by the other endpoints' <c>broker</c> parameter.</param>
/// <param name="State">Running, Draining or Stopped.</param>
/// <param name="Listeners">Its MQTT listeners.</param>
/// <param name="Connections">Open connections that completed CONNECT.</param>
/// <param name="Sessions">Sessions, connected or not.</param>
/// <param name="Subscriptions">Subscriptions in its topic tree.</param>
/// <param name="RetainedMessages">Retained messages, <c>$SYS/...</c> ones included.</param>
/// <param name="RetainedSysMessages">Of <paramref name="RetainedMessages"/>, those under a topic starting with '$' (the broker's <c>$SYS/...</c>):
/// a filter starting with a wildcard (<c>#</c>) does not match them, so the dashboard shows them apart.</param>
internal sealed record BrokerInfo(string Name, BrokerState State, IReadOnlyList<ListenerInfo> Listeners, int Connections, int Sessions,
    int Subscriptions, int RetainedMessages, int RetainedSysMessages);

/// <summary>GET /api/v1/brokers, /api/v1/brokers/{name} and /api/v1/listeners.</summary>
internal static class BrokersApi
{
    public static IEndpointRouteBuilder MapBrokersApi(this IEndpointRouteBuilder api)
    {
        var brokers = api.MapGroup("/brokers").WithTags("Brokers");
        brokers.MapGet("/", List).WithName("ListBrokers").WithSummary("Lists the brokers with their state and listeners.");
        brokers.MapGet("/{name}", Get).WithName("GetBroker").WithSummary("One broker with its state and listeners.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/listeners", ListListeners).WithTags("Brokers").WithName("ListListeners")
            .WithSummary("Lists the HTTP and MQTT listeners and whether each holds its port.");
        return api;
    }

    private static Results<Ok<ResultPage<BrokerInfo>>, ValidationProblem> List(BrokerRegistry registry, BoundListeners listeners, [AsParameters] PageQuery paging,
        [Description("Only brokers whose name contains this text (case-insensitive).")] string? name = null)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var all = AllListeners(listeners);
        return TypedResults.Ok(paging.Apply(registry.Brokers
            .Where(b => name is null || b.Key.Contains(name, StringComparison.OrdinalIgnoreCase))
            .OrderBy(static b => b.Key, StringComparer.Ordinal)
            .Select(b => Describe(b.Key, b.Value, all))));
    }

    private static Results<Ok<BrokerInfo>, ProblemHttpResult> Get(BrokerRegistry registry, BoundListeners listeners, string name) =>
        registry.TryFind(name, out var resolved, out var broker, out var problem)
            ? TypedResults.Ok(Describe(resolved, broker, AllListeners(listeners)))
            : problem;

    private static Results<Ok<ResultPage<ListenerInfo>>, ValidationProblem> ListListeners(BoundListeners listeners, [AsParameters] PageQuery paging,
        [Description("Only listeners of this protocol: http or mqtt.")] string? protocol = null,
        [Description("Only the MQTT listeners of this broker.")] string? broker = null)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        if (protocol is not (null or "http" or "mqtt"))
        {
            errors.Add("protocol", "must be http or mqtt.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        return TypedResults.Ok(paging.Apply(AllListeners(listeners)
            .Where(l => (protocol is null || l.Protocol == protocol) && (broker is null || string.Equals(l.Broker, broker, StringComparison.OrdinalIgnoreCase)))));
    }

    internal static List<ListenerInfo> AllListeners(BoundListeners listeners) =>
    [
        .. listeners.Http.Select(static h => new ListenerInfo("http", null, h.Endpoint.Address.ToString(), h.Endpoint.Port, h.Endpoint.Port != 0, "http", h.Url)),
        .. listeners.Mqtt.Select(static m => new ListenerInfo("mqtt", m.Broker, m.Address, m.Port, m.IsBound, m.Name, m.Url)),
    ];

    internal static BrokerInfo Describe(string name, MqttBroker broker, List<ListenerInfo> listeners) =>
        new(name, broker.State, [.. listeners.Where(l => l.Broker == name)], broker.EnumerateSessions().Count(static s => s.IsConnected),
            broker.SessionCount, broker.SubscriptionCount, broker.RetainedCount, broker.RetainedSysCount);
}
