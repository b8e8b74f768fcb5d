using System.ComponentModel;
using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Diagnostics;
using IoTHub.Web.Api.Clients;
using IoTHub.Web.Auth;
using IoTHub.Web.Mqtt;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Sessions;

/// <summary>A session, connected or not.</summary>
/// <param name="Broker">The broker that holds it.</param>
/// <param name="ClientId">The client identifier it belongs to.</param>
/// <param name="Connected">Whether its client is connected now.</param>
/// <param name="Endpoint">The connected client's address and port; null while offline.</param>
/// <param name="ProtocolVersion">The connected client's protocol version; null while offline.</param>
/// <param name="ExpiryInterval">Seconds it outlives its connection (0: it ends with it; 4294967295: never expires).</param>
/// <param name="QueuedMessages">Queue depth: messages waiting beyond the in-flight window.</param>
/// <param name="InflightMessages">QoS 1/2 messages sent and not yet acknowledged.</param>
/// <param name="Subscriptions">How many subscriptions it has.</param>
/// <param name="QueueFull">Whether its queue is at its limit (Mqtt:MaximumQueuedMessages or MaximumQueuedBytes): new messages are dropped per Mqtt:QueueOverflowPolicy until the client takes some.</param>
/// <param name="QueueFullDrops">Messages it lost to its full queue since the session began (in this broker process).</param>
/// <param name="ConnectedAt">When its connected client's CONNECT was accepted; null while offline.</param>
/// <param name="KeepAlive">The connected client's Keep Alive in seconds (the broker's Server Keep Alive when it set one; 0: none); null while offline.</param>
/// <param name="CleanStart">The connected client's Clean Start (3.1.1: Clean Session) flag; null while offline.</param>
/// <param name="Listener">The listener the connected client came through, e.g. tcp://0.0.0.0:1883; null while offline.</param>
/// <param name="Transport">The connected client's transport: Tcp, Tls, WebSocket, SecureWebSocket or Unix; null while offline.</param>
/// <param name="DisconnectedAt">When its last connection ended; null while connected.</param>
/// <param name="ExpiresAt">When it ends unless its client comes back: offline with an expiry other than never; null otherwise.</param>
/// <param name="LastDisconnectReason">Why its last connection ended (e.g. DISCONNECT, keep-alive timeout, network connection lost); null before one ended in this broker process.</param>
/// <param name="Counters">Its traffic and drops since it began in this broker process.</param>
internal sealed record SessionInfo(string Broker, string ClientId, bool Connected, string? Endpoint, string? ProtocolVersion, uint ExpiryInterval,
    int QueuedMessages, int InflightMessages, int Subscriptions, bool QueueFull, long QueueFullDrops, DateTimeOffset? ConnectedAt, ushort? KeepAlive,
    bool? CleanStart, string? Listener, TransportKind? Transport, DateTimeOffset? DisconnectedAt, DateTimeOffset? ExpiresAt, string? LastDisconnectReason,
    SessionCounters Counters)
{
    public static SessionInfo From(string broker, SessionSnapshot s) =>
        new(broker, s.ClientId, s.IsConnected, s.Endpoint, ProtocolVersions.Name(s.ProtocolVersion), s.ExpiryInterval, s.QueuedMessages,
            s.InflightMessages, s.SubscriptionCount, s.QueueFull, s.QueueFullDrops, s.ConnectedAt, s.KeepAlive, s.CleanStart, s.Listener, s.Transport,
            s.DisconnectedAt, s.ExpiresAt, s.LastDisconnectReason, SessionCounters.From(s.Counters));
}

/// <summary>/api/v1/sessions: list, inspect, delete.</summary>
internal static class SessionsApi
{
    public static IEndpointRouteBuilder MapSessionsApi(this IEndpointRouteBuilder api)
    {
        var sessions = api.MapGroup("/sessions").WithTags("Sessions");
        sessions.MapGet("/", List).WithName("ListSessions")
            .WithSummary("Lists sessions with their queue depth and in-flight messages, filtered by client id (substring or exact), state, queue depth " +
                "or broker, ordered by client id, queue depth, in-flight messages or connection time.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        sessions.MapGet("/{clientId}", Get).WithName("GetSession").WithSummary("One session.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        sessions.MapDelete("/{clientId}", Delete).WithName("DeleteSession")
            .WithSummary("Ends a session: its connection, if any, is closed; its queued messages and subscriptions are dropped.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static Results<Ok<ResultPage<SessionInfo>>, ValidationProblem, ProblemHttpResult> List(BrokerRegistry registry, [AsParameters] PageQuery paging,
        [AsParameters] SessionFilter filter, [AsParameters] ListOrder order, [Description(BrokerLookup.ListDescription)] string? broker = null) =>
        registry.PageSessions(broker, paging, filter.Sessions(order), static s => SessionInfo.From(s.Broker, s.Session));

    private static Results<Ok<SessionInfo>, ProblemHttpResult> Get(BrokerRegistry registry, string clientId,
        [Description(BrokerLookup.Description)] string? broker = null)
    {
        if (!registry.TryFind(broker, out var name, out var found, out var problem))
        {
            return problem;
        }

        return found.GetSession(clientId) is { } session
            ? TypedResults.Ok(SessionInfo.From(name, session))
            : ApiProblems.NotFound($"Broker '{name}' has no session for client '{clientId}'.");
    }

    private static Results<NoContent, ProblemHttpResult> Delete(BrokerRegistry registry, string clientId,
        [Description(BrokerLookup.Description)] string? broker = null)
    {
        if (!registry.TryFind(broker, out var name, out var found, out var problem))
        {
            return problem;
        }

        return found.DeleteSession(clientId) ? TypedResults.NoContent() : ApiProblems.NotFound($"Broker '{name}' has no session for client '{clientId}'.");
    }
}
