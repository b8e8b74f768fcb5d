using System.Diagnostics;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Diagnostics;

/// <summary>
/// The engine's traces: one span per CONNECT, from its arrival to the CONNACK decided (the authenticator's wait
/// included). Nothing is read, timed or allocated while no tracer listens to <see cref="SourceName"/>.
/// </summary>
public static class BrokerTracing
{
    public const string SourceName = "IoTHub.Mqtt";

    public const string ConnectSpanName = "MQTT CONNECT";

    private static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// When a CONNECT arrived as a timestamp of <paramref name="time"/>, if a tracer listens; else 0. A timestamp, not a
    /// time of day: the connection keeps it in 8 bytes.
    /// </summary>
    internal static long ConnectArrived(TimeProvider time) => Source.HasListeners() ? time.GetTimestamp() : 0;

    /// <summary>Records the span of a CONNECT that arrived at timestamp <paramref name="arrived"/> (0: no tracer listened then).</summary>
    internal static void ConnectDecided(long arrived, TimeProvider time, string broker, string listener, string clientId, MqttProtocolVersion version,
        ReasonCode reasonCode, string? reason)
    {
        if (arrived == 0)
        {
            return;
        }

        var start = time.GetUtcNow() - time.GetElapsedTime(arrived);

        // A trace of its own: a WebSocket client's connection runs inside the HTTP request that upgraded it.
        var outer = Activity.Current;
        Activity.Current = null;
        try
        {
            using var activity = Source.StartActivity(ConnectSpanName, ActivityKind.Server, parentContext: default, startTime: start);
            if (activity is null)
            {
                return;
            }

            activity.SetTag("mqtt.broker", broker);
            activity.SetTag("mqtt.listener", listener);
            activity.SetTag("mqtt.client_id", clientId);
            activity.SetTag("mqtt.protocol_version", ProtocolVersions.Name(version));
            activity.SetTag("mqtt.connect.reason_code", (int)reasonCode);
            if (reasonCode != ReasonCode.Success)
            {
                activity.SetStatus(ActivityStatusCode.Error, reason);
            }
        }
        finally
        {
            Activity.Current = outer;
        }
    }
}
