using IoTHub.Broker.Diagnostics;

namespace IoTHub.Broker;

/// <summary>A client's connection was bound to its session, or its connection ended.</summary>
/// <param name="clientId">The client identifier.</param>
/// <param name="endpoint">The remote address and port of the connection.</param>
/// <param name="connected">True when it connected, false when its connection ended.</param>
/// <param name="reason">Why its connection ended ("DISCONNECT", "keep-alive timeout", "network connection lost", ...); null when it connected.</param>
public sealed class ClientConnectionEventArgs(string clientId, string endpoint, bool connected, string? reason = null) : EventArgs
{
    public string ClientId { get; } = clientId;

    public string Endpoint { get; } = endpoint;

    public bool Connected { get; } = connected;

    public string? Reason { get; } = reason;
}

/// <summary>
/// Events for watchers such as the dashboard. They are raised on the connect and close paths only,
/// outside the sessions lock, never per message; a handler must be quick and must not block (hand the
/// work to another thread). A handler that throws is logged and does not affect the connection.
/// </summary>
public sealed partial class MqttBroker
{
    /// <summary>
    /// A client connected (also when it took over another connection with its client id), or its
    /// connection ended (not raised for a connection that was taken over: its client is still connected).
    /// </summary>
    public event EventHandler<ClientConnectionEventArgs>? ClientConnectionChanged;

    private void RaiseClientConnectionChanged(string clientId, string endpoint, bool connected, string? reason = null)
    {
        if (ClientConnectionChanged is not { } handlers)
        {
            return;
        }

        var args = new ClientConnectionEventArgs(clientId, endpoint, connected, reason);
        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                ((EventHandler<ClientConnectionEventArgs>)handler)(this, args);
            }
#pragma warning disable CA1031 // A watcher's failure must never end a client's connection.
            catch (Exception e)
#pragma warning restore CA1031
            {
                BrokerLog.ClientEventHandlerFailed(Logger, e, clientId);
            }
        }
    }
}
