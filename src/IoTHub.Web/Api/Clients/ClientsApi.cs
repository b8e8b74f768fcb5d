using System.ComponentModel;
using IoTHub.Broker;
using IoTHub.Web.Api.Subscriptions;
using IoTHub.Web.Auth;
using IoTHub.Web.Mqtt;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Clients;

/// <summary>A connected client.</summary>
/// <param name="Broker">The broker it is connected to.</param>
/// <param name="ClientId">Its client identifier.</param>
/// <param name="Endpoint">Its remote address and port, e.g. 127.0.0.1:50312.</param>
/// <param name="UserName">The user name it sent in CONNECT, if any, or the identity of its client certificate on a listener that takes user names from certificates.</param>
/// <param name="ProtocolVersion">"3.1", "3.1.1" or "5.0".</param>
/// <param name="QueuedMessages">Messages waiting to be sent to it.</param>
/// <param name="InflightMessages">QoS 1/2 messages sent and not yet acknowledged.</param>
/// <param name="Subscriptions">How many subscriptions its session has.</param>
internal sealed record ClientSummary(string Broker, string ClientId, string? Endpoint, string? UserName, string? ProtocolVersion, int QueuedMessages,
    int InflightMessages, int Subscriptions);

/// <summary>A connected client with its session and subscriptions.</summary>
/// <param name="Client">The client as listed.</param>
/// <param name="SessionExpiryInterval">Seconds its session outlives the connection (0: it ends with it).</param>
/// <param name="Subscriptions">Its session's subscriptions.</param>
internal sealed record ClientDetails(ClientSummary Client, uint SessionExpiryInterval, IReadOnlyList<SubscriptionInfo> Subscriptions);

/// <summary>/api/v1/clients: connected clients; list, details, disconnect.</summary>
internal static class ClientsApi
{
    public static IEndpointRouteBuilder MapClientsApi(this IEndpointRouteBuilder api)
    {
        var clients = api.MapGroup("/clients").WithTags("Clients");
        clients.MapGet("/", List).WithName("ListClients").WithSummary("Lists connected clients, filtered by client id, user name, IP address or broker.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        clients.MapGet("/{clientId}", Get).WithName("GetClient").WithSummary("One connected client with its subscriptions.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        clients.MapPost("/{clientId}/disconnect", Disconnect).WithName("DisconnectClient")
            .WithSummary("Closes the client's connection (MQTT 5.0 clients get DISCONNECT 0x98 Administrative action). Its session stays by its expiry.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static Results<Ok<ResultPage<ClientSummary>>, ValidationProblem, ProblemHttpResult> List(BrokerRegistry registry, [AsParameters] PageQuery paging,
        [Description(BrokerLookup.ListDescription)] string? broker = null,
        [Description("Only clients whose id contains this text (case-sensitive).")] string? clientId = null,
        [Description("Only clients connected from this IP address (or whose address starts with this text).")] string? ip = null,
        [Description("Only clients that sent exactly this user name in CONNECT (case-sensitive).")] string? user = null)
    {
        return registry.PageAcross(broker, paging, new ValidationErrors(), brokers => brokers
            .SelectMany(static b => b.Value.GetSessions().Where(static s => s.IsConnected).Select(s => Summary(b.Key, s)))
            .Where(c => (clientId is null || c.ClientId.Contains(clientId, StringComparison.Ordinal))
                && (ip is null || (c.Endpoint is { } endpoint && HostOf(endpoint).StartsWith(ip, StringComparison.OrdinalIgnoreCase)))
                && (user is null || string.Equals(c.UserName, user, StringComparison.Ordinal)))
            .OrderBy(static c => c.Broker, StringComparer.Ordinal).ThenBy(static c => c.ClientId, StringComparer.Ordinal));
    }

    private static Results<Ok<ClientDetails>, ProblemHttpResult> Get(BrokerRegistry registry, string clientId,
        [Description(BrokerLookup.Description)] string? broker = null)
    {
        if (!registry.TryFind(broker, out var name, out var found, out var problem))
        {
            return problem;
        }

        if (found.GetSession(clientId) is not { IsConnected: true } session)
        {
            return ApiProblems.NotFound($"No client '{clientId}' is connected to broker '{name}'.");
        }

        var subscriptions = found.GetSubscriptions(clientId) ?? [];
        return TypedResults.Ok(new ClientDetails(Summary(name, session), session.ExpiryInterval, [.. subscriptions.Select(s => SubscriptionInfo.From(name, s))]));
    }

    private static Results<NoContent, ProblemHttpResult> Disconnect(BrokerRegistry registry, string clientId,
        [Description(BrokerLookup.Description)] string? broker = null)
    {
        if (!registry.TryFind(broker, out var name, out var found, out var problem))
        {
            return problem;
        }

        return found.Disconnect(clientId) ? TypedResults.NoContent() : ApiProblems.NotFound($"No client '{clientId}' is connected to broker '{name}'.");
    }

    internal static ClientSummary Summary(string broker, SessionSnapshot s) =>
        new(broker, s.ClientId, s.Endpoint, s.UserName, ProtocolVersions.Name(s.ProtocolVersion), s.QueuedMessages, s.InflightMessages, s.SubscriptionCount);

    /// <summary>The address part of "address:port" (IPv6 addresses are written "[::1]:port").</summary>
    private static string HostOf(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        var host = colon > 0 && !endpoint.EndsWith(']') ? endpoint[..colon] : endpoint;
        return host.Trim('[', ']');
    }
}
