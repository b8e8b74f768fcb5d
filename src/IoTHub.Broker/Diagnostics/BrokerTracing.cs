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

    /// <summary>When a CONNECT arrived, if a tracer listens; else null.</summary>
    internal static DateTimeOffset? ConnectArrived(TimeProvider time) => Source.HasListeners() ? time.GetUtcNow() : null;

    /// <summary>Records the span of a CONNECT that arrived at <paramref name="arrived"/> (null: no tracer listened then).</summary>
    internal static void ConnectDecided(DateTimeOffset? arrived, string broker, string listener, string clientId, MqttProtocolVersion version,
        ReasonCode reasonCode, string? reason)
    {
        if (arrived is not { } start)
        {
            return;
        }

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
