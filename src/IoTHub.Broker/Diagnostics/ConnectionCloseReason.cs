namespace IoTHub.Broker.Diagnostics;

/// <summary>
/// Why a connection whose CONNECT was accepted ended, as an operator acts on it: counted once per such connection
/// (<see cref="BrokerStatistics.ConnectionsClosed"/>); finer detail is in the log's "client disconnected" line.
/// </summary>
public enum ConnectionCloseReason : byte
{
    /// <summary>The client sent DISCONNECT (any reason code, 5.0's 0x04 with will included).</summary>
    ClientDisconnect,

    /// <summary>The connection ended without DISCONNECT: the client closed its socket, or the network failed.</summary>
    Network,

    /// <summary>No packet for 1.5 times the Keep Alive [MQTT-3.1.2-24].</summary>
    KeepAlive,

    /// <summary>A new connection with the same client id took the session over.</summary>
    Takeover,

    /// <summary>A malformed packet or a protocol violation after CONNECT.</summary>
    ProtocolError,

    /// <summary>
    /// Access ended it: its credentials expired, its user was deleted or disabled, a re-authentication failed or was
    /// not finished in time, or a PUBLISH or SUBSCRIBE was denied with Security:DenyAction=Disconnect.
    /// </summary>
    NotAuthorized,

    /// <summary>An administrator disconnected the client or deleted its session (admin API, dashboard).</summary>
    Admin,

    /// <summary>Its socket accepted no data for Mqtt:StuckClientTimeout while the broker had some for it.</summary>
    Stuck,

    /// <summary>The broker stopped, or stopped serving (a node that lost its cluster's membership store).</summary>
    ServerShutdown,

    /// <summary>A QoS 1/2 message it published could not be stored (strict durability): it sends it again on reconnect.</summary>
    StorageError,

    /// <summary>
    /// A QoS 1/2 message it published was not accepted in time by another node of the cluster it was forwarded to: it sends it
    /// again on reconnect (docs/clustering.md#acknowledged-forwarding).
    /// </summary>
    ForwardNotAccepted,

    /// <summary>Anything else (an internal error).</summary>
    Other,
}

/// <summary>The label values of <see cref="ConnectionCloseReason"/>.</summary>
public static class ConnectionCloseReasons
{
    public static readonly ConnectionCloseReason[] All = Enum.GetValues<ConnectionCloseReason>();

    /// <summary>The snake_case label value, e.g. <c>client_disconnect</c>.</summary>
    public static string Label(this ConnectionCloseReason reason) => reason switch
    {
        ConnectionCloseReason.ClientDisconnect => "client_disconnect",
        ConnectionCloseReason.Network => "network",
        ConnectionCloseReason.KeepAlive => "keepalive",
        ConnectionCloseReason.Takeover => "takeover",
        ConnectionCloseReason.ProtocolError => "protocol_error",
        ConnectionCloseReason.NotAuthorized => "not_authorized",
        ConnectionCloseReason.Admin => "admin",
        ConnectionCloseReason.Stuck => "stuck",
        ConnectionCloseReason.ServerShutdown => "server_shutdown",
        ConnectionCloseReason.StorageError => "storage_error",
        ConnectionCloseReason.ForwardNotAccepted => "forward_not_accepted",
        ConnectionCloseReason.Other => "other",
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };
}
