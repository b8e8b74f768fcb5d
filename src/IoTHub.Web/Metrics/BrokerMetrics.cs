using System.Diagnostics.Metrics;
using IoTHub.Broker;
using IoTHub.Mqtt;
using IoTHub.Web.Api;
using IoTHub.Web.Mqtt;

namespace IoTHub.Web.Metrics;

/// <summary>
/// The meter "IoTHub.Broker": observable instruments that read each broker's statistics and state
/// when metrics are collected (nothing is counted twice on the hot path), tagged with the broker's
/// name; and the admin login failures, counted as they happen.
/// </summary>
internal sealed class BrokerMetrics
{
    public const string MeterName = "IoTHub.Broker";

    private static readonly MqttProtocolVersion[] ReportedVersions = [MqttProtocolVersion.V310, MqttProtocolVersion.V311, MqttProtocolVersion.V500];

    private readonly Counter<long> _loginFailures;

    public BrokerMetrics(IMeterFactory meters, BrokerRegistry registry)
    {
        var meter = meters.Create(MeterName);
        var brokers = registry.Brokers;

        meter.CreateObservableUpDownCounter("iothub.connections", () => ConnectionsByVersion(brokers), "{connection}",
            "Open MQTT connections that completed CONNECT, by broker and protocol version.");
        meter.CreateObservableUpDownCounter("iothub.sessions", () => PerBroker(brokers, static b => b.SessionCount), "{session}",
            "Sessions, connected or not.");
        meter.CreateObservableUpDownCounter("iothub.subscriptions", () => PerBroker(brokers, static b => b.Subscriptions.Count), "{subscription}",
            "Subscriptions in the topic tree.");
        meter.CreateObservableUpDownCounter("iothub.retained.messages", () => PerBroker(brokers, static b => b.Retained.Count), "{message}",
            "Retained messages.");
        meter.CreateObservableUpDownCounter("iothub.queued.messages", () => PerBroker(brokers, QueueDepth), "{message}",
            "Messages waiting in session queues, beyond the in-flight windows.");
        meter.CreateObservableCounter("iothub.messages.received", () => PerBroker(brokers, static b => b.Statistics.MessagesReceived), "{message}",
            "PUBLISH messages received from clients.");
        meter.CreateObservableCounter("iothub.messages.delivered", () => PerBroker(brokers, static b => b.Statistics.MessagesDelivered), "{message}",
            "Messages handed to subscribers' sessions.");
        meter.CreateObservableCounter("iothub.messages.dropped", () => PerBroker(brokers, static b => b.Statistics.MessagesDropped, "queue_full"), "{message}",
            "Messages dropped, by reason.");
        meter.CreateObservableCounter("iothub.network.received", () => PerBroker(brokers, static b => b.Statistics.BytesReceived), "By",
            "Bytes received on MQTT connections.");
        meter.CreateObservableCounter("iothub.network.sent", () => PerBroker(brokers, static b => b.Statistics.BytesSent), "By",
            "Bytes sent on MQTT connections.");
        meter.CreateObservableCounter("iothub.connections.accepted", () => PerBroker(brokers, static b => b.Statistics.ConnectionsAccepted), "{connection}",
            "CONNECTs accepted.");
        meter.CreateObservableCounter("iothub.connections.refused", () => PerBroker(brokers, static b => b.Statistics.ConnectionsRefused), "{connection}",
            "CONNECTs refused.");
        _loginFailures = meter.CreateCounter<long>("iothub.auth.failures", "{attempt}", "Failed authentications, by kind (admin_login).");
    }

    public void AdminLoginFailed() => _loginFailures.Add(1, new KeyValuePair<string, object?>("kind", "admin_login"));

    private static long QueueDepth(MqttBroker broker) => broker.GetSessions().Sum(static s => (long)s.QueuedMessages);

    private static IEnumerable<Measurement<long>> PerBroker(IReadOnlyDictionary<string, MqttBroker> brokers, Func<MqttBroker, long> read, string? reason = null)
    {
        foreach (var (name, broker) in brokers)
        {
            yield return reason is null
                ? new Measurement<long>(read(broker), new KeyValuePair<string, object?>("broker", name))
                : new Measurement<long>(read(broker), new KeyValuePair<string, object?>("broker", name), new KeyValuePair<string, object?>("reason", reason));
        }
    }

    private static IEnumerable<Measurement<long>> ConnectionsByVersion(IReadOnlyDictionary<string, MqttBroker> brokers)
    {
        foreach (var (name, broker) in brokers)
        {
            // Every version is reported, zeros included, so that a series does not vanish when its last client leaves.
            var connected = broker.GetSessions().Where(static s => s.IsConnected).ToList();
            foreach (var version in ReportedVersions)
            {
                yield return new Measurement<long>(connected.Count(s => s.ProtocolVersion == version), new KeyValuePair<string, object?>("broker", name),
                    new KeyValuePair<string, object?>("protocol", ProtocolVersions.Name(version)));
            }
        }
    }
}
