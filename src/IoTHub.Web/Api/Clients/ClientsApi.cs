using System.ComponentModel;
using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Diagnostics;
using IoTHub.Web.Api.Sessions;
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
/// <param name="ConnectedAt">When its CONNECT was accepted.</param>
/// <param name="KeepAlive">Its Keep Alive in seconds (the broker's Server Keep Alive when it set one; 0: none).</param>
/// <param name="CleanStart">The Clean Start (3.1.1: Clean Session) flag of its CONNECT.</param>
/// <param name="Counters">Its session's traffic and drops since the session began in this broker process.</param>
internal sealed record ClientSummary(string Broker, string ClientId, string? Endpoint, string? UserName, string? ProtocolVersion, int QueuedMessages,
    int InflightMessages, int Subscriptions, DateTimeOffset? ConnectedAt, ushort? KeepAlive, bool? CleanStart, SessionCounters Counters);

/// <summary>A connected client with its session and subscriptions.</summary>
/// <param name="Client">The client as listed.</param>
/// <param name="SessionExpiryInterval">Seconds its session outlives the connection (0: it ends with it; 4294967295: never expires).</param>
/// <param name="Subscriptions">Its session's subscriptions.</param>
/// <param name="Listener">The listener it came through, e.g. tcp://0.0.0.0:1883.</param>
/// <param name="Transport">Its transport: Tcp, Tls, WebSocket, SecureWebSocket or Unix.</param>
/// <param name="Will">The will its CONNECT carried; null when it sent none.</param>
/// <param name="LastDisconnectReason">Why the session's previous connection ended; null when there was none in this broker process.</param>
internal sealed record ClientDetails(ClientSummary Client, uint SessionExpiryInterval, IReadOnlyList<SubscriptionInfo> Subscriptions, string? Listener,
    TransportKind? Transport, WillInfo? Will, string? LastDisconnectReason);

/// <summary>A connected client's will: the message the broker publishes when the connection ends without a normal DISCONNECT.</summary>
/// <param name="Topic">The topic it is published to.</param>
/// <param name="Qos">Its QoS: 0, 1 or 2.</param>
/// <param name="Retain">Whether it is published retained.</param>
/// <param name="Delay">MQTT 5.0 Will Delay Interval in seconds: how long after the connection ends it waits (0 in 3.1.1).</param>
/// <param name="ExpiryInterval">MQTT 5.0 Message Expiry Interval of the will in seconds; null when it never expires.</param>
internal sealed record WillInfo(string Topic, int Qos, bool Retain, uint Delay, uint? ExpiryInterval)
{
    public static WillInfo? From(WillSnapshot? will) =>
        will is null ? null : new(will.Topic, (int)will.QualityOfService, will.Retain, will.Delay, will.ExpiryInterval);
}

/// <summary>What a bulk disconnect did.</summary>
/// <param name="Disconnected">Connections it closed.</param>
internal sealed record DisconnectedClients(int Disconnected);

/// <summary>/api/v1/clients: connected clients; list, details, disconnect.</summary>
internal static class ClientsApi
{
    public static IEndpointRouteBuilder MapClientsApi(this IEndpointRouteBuilder api)
    {
        var clients = api.MapGroup("/clients").WithTags("Clients");
        clients.MapGet("/", List).WithName("ListClients")
            .WithSummary("Lists connected clients, filtered by client id (substring or exact), user name, IP address, queue depth or broker, " +
                "ordered by client id, queue depth, in-flight messages or connection time.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        clients.MapPost("/disconnect", DisconnectMatching).WithName("DisconnectClients")
            .WithSummary("Closes the connection of every connected client that the filter keeps (at least one of clientId, ip and user); answers how many.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        clients.MapGet("/{clientId}", Get).WithName("GetClient").WithSummary("One connected client with its subscriptions.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        clients.MapPost("/{clientId}/disconnect", Disconnect).WithName("DisconnectClient")
            .WithSummary("Closes the client's connection (MQTT 5.0 clients get DISCONNECT 0x98 Administrative action). Its session stays by its expiry.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static Results<Ok<ResultPage<ClientSummary>>, ValidationProblem, ProblemHttpResult> List(BrokerRegistry registry, [AsParameters] PageQuery paging,
        [AsParameters] ClientFilter filter, [AsParameters] ListOrder order, [Description(BrokerLookup.ListDescription)] string? broker = null) =>
        registry.PageSessions(broker, paging, filter.Clients(order), static s => Summary(s.Broker, s.Session));

    private static Results<Ok<DisconnectedClients>, ValidationProblem, ProblemHttpResult> DisconnectMatching(BrokerRegistry registry,
        [AsParameters] ClientFilter filter, [Description(BrokerLookup.ListDescription)] string? broker = null)
    {
        var errors = new ValidationErrors();
        var query = filter.Clients();
        query.Validate(errors);
        if (!filter.Any)
        {
            errors.Add("clientId", "or ip or user is required: a bulk disconnect names the clients it is for.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        if (!registry.TrySelect(broker, out var brokers, out var problem))
        {
            return problem;
        }

        var selected = brokers.ToDictionary(static b => b.Key, static b => b.Value, StringComparer.Ordinal);
        List<ListedSession> matching = [.. query.Find(selected)];
        return TypedResults.Ok(new DisconnectedClients(matching.Count(static c => c.Engine.Disconnect(c.Session.ClientId))));
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
        return TypedResults.Ok(new ClientDetails(Summary(name, session), session.ExpiryInterval, [.. subscriptions.Select(s => SubscriptionInfo.From(name, s))],
            session.Listener, session.Transport, WillInfo.From(found.GetWill(clientId)), session.LastDisconnectReason));
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
        new(broker, s.ClientId, s.Endpoint, s.UserName, ProtocolVersions.Name(s.ProtocolVersion), s.QueuedMessages, s.InflightMessages, s.SubscriptionCount,
            s.ConnectedAt, s.KeepAlive, s.CleanStart, SessionCounters.From(s.Counters));
}
