using System.ComponentModel;
using Microsoft.AspNetCore.Mvc;

namespace IoTHub.Web.Api.Clients;

/// <summary>Which connected clients a list or a bulk disconnect is about; every criterion given must hold.</summary>
internal sealed class ClientFilter
{
    [FromQuery(Name = "clientId")]
    [Description("Only clients whose id contains this text (case-sensitive).")]
    public string? ClientId { get; set; }

    [FromQuery(Name = "ip")]
    [Description("Only clients connected from this IP address (or whose address starts with this text).")]
    public string? Ip { get; set; }

    [FromQuery(Name = "user")]
    [Description("Only clients that sent exactly this user name in CONNECT (case-sensitive).")]
    public string? User { get; set; }

    /// <summary>Whether any criterion is given.</summary>
    public bool Any => ClientId is not null || Ip is not null || User is not null;

    public bool Matches(ClientSummary client) =>
        (ClientId is null || client.ClientId.Contains(ClientId, StringComparison.Ordinal))
        && (Ip is null || (client.Endpoint is { } endpoint && HostOf(endpoint).StartsWith(Ip, StringComparison.OrdinalIgnoreCase)))
        && (User is null || string.Equals(client.UserName, User, StringComparison.Ordinal));

    /// <summary>The address part of "address:port" (IPv6 addresses are written "[::1]:port").</summary>
    private static string HostOf(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        var host = colon > 0 && !endpoint.EndsWith(']') ? endpoint[..colon] : endpoint;
        return host.Trim('[', ']');
    }
}
