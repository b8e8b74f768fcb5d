using IoTHub.Broker.Diagnostics;
using Microsoft.AspNetCore.Connections;

namespace IoTHub.Web.Transports;

/// <summary>
/// The log of connections a listener's middleware closes before MQTT begins (a limit, a bad PROXY header, bytes of no
/// known protocol): one line saying why, at most 20 every 10 s per listener, so a flood cannot flood the log (DESIGN §2.8).
/// </summary>
internal sealed partial class RefusedConnections(string listener, ILogger logger)
{
    private readonly LogRateLimiter _log = new(linesPerPeriod: 20, TimeSpan.FromSeconds(10), TimeProvider.System);

    public void Log(ConnectionContext connection, string reason)
    {
        if (_log.TryAcquire(out var suppressed))
        {
            LogRefused(logger, connection.RemoteEndPoint?.ToString() ?? "unknown", listener, reason, suppressed);
        }
    }

    [LoggerMessage(EventId = 1410, Level = LogLevel.Warning,
        Message = "Connection from {Remote} to listener '{Listener}' closed: {Reason} ({Suppressed} more such lines were left out before)")]
    private static partial void LogRefused(ILogger logger, string remote, string listener, string reason, long suppressed);
}
