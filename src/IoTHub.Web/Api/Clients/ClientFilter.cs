using System.ComponentModel;
using IoTHub.Web.Api.Sessions;
using Microsoft.AspNetCore.Mvc;

namespace IoTHub.Web.Api.Clients;

/// <summary>The <c>clientId</c> criterion of the lists of clients, sessions and subscriptions, and how it compares.</summary>
internal abstract class ClientIdCriterion
{
    [FromQuery(Name = "clientId")]
    [Description("Only the clients whose id is this text or contains it (case-sensitive), as clientIdMatch says.")]
    public string? ClientId { get; set; }

    [FromQuery(Name = "clientIdMatch")]
    [Description("How clientId compares: Contains (a substring) or Exact; the default: Contains for clients and sessions, Exact for subscriptions.")]
    public ClientIdMatch? ClientIdMatch { get; set; }
}

/// <summary>The criteria the lists of clients and sessions share.</summary>
internal abstract class SessionCriteria : ClientIdCriterion
{
    [FromQuery(Name = "minQueued")]
    [Description("Only those with at least this many queued messages.")]
    public int? MinQueued { get; set; }

    /// <summary>A list of sessions by these criteria, in <paramref name="order"/> (by client id, ascending, when absent).</summary>
    protected SessionListQuery Query(ListOrder? order) => new()
    {
        ClientId = ClientId,
        ClientIdMatch = ClientIdMatch ?? Sessions.ClientIdMatch.Contains,
        MinQueued = MinQueued,
        Sort = order?.Sort ?? SessionSort.ClientId,
        Order = order?.Order ?? SortOrder.Asc,
    };
}

/// <summary>Which connected clients a list or a bulk disconnect is about; every criterion given must hold.</summary>
internal sealed class ClientFilter : SessionCriteria
{
    [FromQuery(Name = "ip")]
    [Description("Only clients connected from this IP address (or whose address starts with this text).")]
    public string? Ip { get; set; }

    [FromQuery(Name = "user")]
    [Description("Only clients that sent exactly this user name in CONNECT (case-sensitive).")]
    public string? User { get; set; }

    /// <summary>Whether any criterion that names clients is given.</summary>
    public bool Any => ClientId is not null || Ip is not null || User is not null;

    /// <summary>The list of connected sessions these criteria keep, in <paramref name="order"/>.</summary>
    public SessionListQuery Clients(ListOrder? order = null) => Query(order) with { Connected = true, Ip = Ip, User = User };
}

/// <summary>The criteria of the list of sessions, connected or not; every criterion given must hold.</summary>
internal sealed class SessionFilter : SessionCriteria
{
    [FromQuery(Name = "connected")]
    [Description("Only connected (true) or offline (false) sessions.")]
    public bool? Connected { get; set; }

    [FromQuery(Name = "queueFull")]
    [Description("Only sessions whose queue is full (true) or not (false).")]
    public bool? QueueFull { get; set; }

    /// <summary>The list of sessions these criteria keep, in <paramref name="order"/>.</summary>
    public SessionListQuery Sessions(ListOrder order) => Query(order) with { Connected = Connected, QueueFull = QueueFull };
}

/// <summary>The order of a list of clients or sessions.</summary>
internal sealed class ListOrder
{
    [FromQuery(Name = "sort")]
    [Description("What the list is ordered by: ClientId (the default), Queued (queue depth), Inflight or ConnectedAt (offline sessions last); ties by client id.")]
    public SessionSort? Sort { get; set; }

    [FromQuery(Name = "order")]
    [Description("Asc (the default) or Desc.")]
    public SortOrder? Order { get; set; }
}
