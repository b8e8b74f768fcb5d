using System.Diagnostics.Metrics;
using IoTHub.Broker;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Backends;
using IoTHub.Broker.Security.Bans;
using IoTHub.Broker.Storage;
using IoTHub.Mqtt;
using IoTHub.Web.Alarms;
using IoTHub.Web.Api.Bans;
using IoTHub.Web.Configuration;
using IoTHub.Web.Hosting;
using IoTHub.Web.Mqtt;
using IoTHub.Web.Security;
using IoTHub.Web.Transports.Tls;

namespace IoTHub.Web.Metrics;

/// <summary>
/// The meter "IoTHub.Broker": observable instruments that read each broker's statistics and state
/// when metrics are collected (nothing is counted twice on the hot path), tagged with the broker's
/// name; the delivery latency histogram, recorded by the brokers' write loops; the admin login
/// failures; and the failed commits of the storage. Every series of a label set is reported, zeros
/// included, so none vanishes.
/// </summary>
internal sealed class BrokerMetrics
{
    public const string MeterName = "IoTHub.Broker";

    /// <summary>Seconds, from 50 µs (routing on one machine) to 5 s (a subscriber's queue that waited).</summary>
    public static readonly double[] LatencyBuckets =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    /// <summary>Seconds, from 0.1 ms (a memory store, a batch in the OS cache) to 5 s (a database or disk in trouble).</summary>
    public static readonly double[] CommitBuckets = LatencyBuckets[1..];

    private static readonly MqttProtocolVersion[] ReportedVersions = [MqttProtocolVersion.V310, MqttProtocolVersion.V311, MqttProtocolVersion.V500];
    private static readonly QualityOfService[] Levels = [QualityOfService.AtMostOnce, QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce];

    private long _adminLoginFailures;

    public BrokerMetrics(IMeterFactory meters, BrokerRegistry registry, BoundListeners listeners, AuthenticationChain authentication, BanList bans,
        TimeProvider time, MqttAuthorization authorization, AlarmBoard alarms)
    {
        var meter = meters.Create(MeterName);
        var brokers = registry.Brokers;

        meter.CreateObservableUpDownCounter("iothub.connections", () => ConnectionsByListener(brokers, listeners), "{connection}",
            "Open MQTT connections that completed CONNECT, by broker, listener and protocol version.");
        meter.CreateObservableUpDownCounter("iothub.sessions", () => PerBroker(brokers, static b => b.SessionCount), "{session}",
            "Sessions, connected or not.");
        meter.CreateObservableUpDownCounter("iothub.subscriptions", () => PerBroker(brokers, static b => b.SubscriptionCount), "{subscription}",
            "Subscriptions in the topic tree.");
        meter.CreateObservableUpDownCounter("iothub.retained.messages", () => PerBroker(brokers, static b => b.RetainedCount), "{message}",
            "Retained messages.");
        meter.CreateObservableUpDownCounter("iothub.queued.messages", () => PerBroker(brokers, QueueDepth), "{message}",
            "Messages waiting in session queues, beyond the in-flight windows.");
        meter.CreateObservableUpDownCounter("iothub.sessions.full", () => PerBroker(brokers, static b => b.FullSessionCount), "{session}",
            "Sessions whose queue is at its limit: new messages for them are dropped per the overflow policy.");
        meter.CreateObservableCounter("iothub.messages.received", () => PerQos(brokers, static (s, q) => s.MessagesReceivedAt(q)), "{message}",
            "PUBLISH messages accepted from clients, by the QoS they were published with.");
        meter.CreateObservableCounter("iothub.messages.delivered", () => PerQos(brokers, static (s, q) => s.MessagesDeliveredAt(q)), "{message}",
            "PUBLISH packets written to subscribers, by the QoS of the delivery.");
        meter.CreateObservableCounter("iothub.publish.received", () => PerQos(brokers, static (s, q) => s.PublishBytesReceivedAt(q)), "By",
            "Bytes of the PUBLISH packets accepted from clients, by QoS.");
        meter.CreateObservableCounter("iothub.publish.sent", () => PerQos(brokers, static (s, q) => s.PublishBytesSentAt(q)), "By",
            "Bytes of the PUBLISH packets written to subscribers, by QoS.");
        meter.CreateObservableCounter("iothub.messages.dropped", () => PerReason(brokers, DropReasons.All, DropReasons.Label, static (s, r) => s.Dropped(r)), "{message}",
            "Messages thrown away, by reason: " + string.Join(", ", DropReasons.All.Select(static r => r.Label())) + ".");
        meter.CreateObservableCounter("iothub.network.received", () => PerBroker(brokers, static b => b.Statistics.BytesReceived), "By",
            "Bytes received on MQTT connections.");
        meter.CreateObservableCounter("iothub.network.sent", () => PerBroker(brokers, static b => b.Statistics.BytesSent), "By",
            "Bytes sent on MQTT connections.");
        meter.CreateObservableCounter("iothub.connections.accepted", () => PerBroker(brokers, static b => b.Statistics.ConnectionsAccepted), "{connection}",
            "CONNECTs accepted.");
        meter.CreateObservableCounter("iothub.connections.refused", () => PerBroker(brokers, static b => b.Statistics.ConnectionsRefused), "{connection}",
            "CONNECTs refused.");
        meter.CreateObservableCounter("iothub.connections.closed", () => PerReason(brokers, ConnectionCloseReasons.All, ConnectionCloseReasons.Label, static (s, r) => s.ConnectionsClosed(r)), "{connection}",
            "Connections whose CONNECT was accepted that ended, each once, by reason: " + string.Join(", ", ConnectionCloseReasons.All.Select(static r => r.Label())) + ".");
        meter.CreateObservableCounter("iothub.auth.failures", () => AuthenticationFailures(brokers), "{attempt}",
            "Failed authentications, by kind: admin_login (the admin API), mqtt_connect (CONNECTs refused for their credentials or authentication method, by broker).");
        meter.CreateObservableGauge("iothub.listener.certificate.expiry", () => CertificateExpiry(listeners, time), "s",
            "Seconds until the certificate of a TLS listener expires (negative once expired); with several (SNI), the first to expire. Follows renewals.");
        meter.CreateObservableCounter("iothub.authentication", () => AuthenticationDecisions(authentication), "{decision}",
            "MQTT authentication decisions (cache hits included) of all brokers, by result (allow, deny) and method (the authenticator that decided, or anonymous).");
        meter.CreateObservableCounter("iothub.authentication.backend.errors", () => BackendErrors(authentication), "{error}",
            "Questions an authenticator's backend failed, by method (webhook, sql), authenticator (its section, Security:Authenticators:<n>) and reason: timeout (no answer within its Timeout), error (unreachable, an unexpected status or answer).");
        meter.CreateObservableCounter("iothub.authorization", () => AuthorizationDecisions(authorization), "{decision}",
            "MQTT access decisions of all brokers (cache hits included) on PUBLISH topics, wills and SUBSCRIBE filters, by action (publish, subscribe) and result (allow, deny).");
        meter.CreateObservableCounter("iothub.access.audit.dropped", () => AccessAuditDrops(authorization), "{decision}",
            "Access decisions of all brokers the access audit did not record, by reason: rate_limit (over Security:AccessAudit:MaxPerSecond), queue_full (the store fell behind), write_failed (the store failed).");
        meter.CreateObservableCounter("iothub.authentication.bans", () => PerBanKind(bans, static (b, kind) => b.Started(kind)), "{ban}",
            "Bans of MQTT logins started after too many failures, by kind (address, user).");
        meter.CreateObservableUpDownCounter("iothub.authentication.bans.active", () => PerBanKind(bans, static (b, kind) => b.InForce(kind)), "{ban}",
            "Bans of MQTT logins in force, by kind (address, user).");

        meter.CreateObservableUpDownCounter("iothub.alarms.active", () => ActiveAlarms(alarms), "{alarm}",
            "Active alarms, by name: " + string.Join(", ", AlarmNames.All) + " (GET /api/v1/alarms lists them).");

        var latency = DeliveryLatency = meter.CreateHistogram("iothub.delivery.latency", "s",
            "Seconds from a PUBLISH decoded to its delivery handed to a subscriber's transport, one per written batch: its oldest live delivery (not resends, not retained messages sent at SUBSCRIBE).",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        foreach (var (name, broker) in brokers)
        {
            broker.Statistics.RecordDeliveryLatencyIn(latency, new KeyValuePair<string, object?>("broker", name));
        }
    }

    /// <summary>The delivery latency histogram the brokers record in.</summary>
    public Histogram<double> DeliveryLatency { get; }

    public long AdminLoginFailures => Volatile.Read(ref _adminLoginFailures);

    public void AdminLoginFailed() => Interlocked.Increment(ref _adminLoginFailures);

    /// <summary>The instruments of the default broker's storage, added once it is opened at start.</summary>
    public static void AddStorage(IMeterFactory meters, StorageWriter writer, StorageProvider provider)
    {
        var label = new KeyValuePair<string, object?>("provider", provider.ToString().ToLowerInvariant());
        var meter = meters.Create(MeterName);
        meter.CreateObservableCounter("iothub.storage.commit.failures", () => new Measurement<long>(writer.FailedBatches, label), "{commit}",
            "Storage commits (batches of writes) that failed, by provider: their writes were neither stored nor acknowledged.");
        var duration = meter.CreateHistogram("iothub.storage.commit.duration", "s",
            "Seconds each storage commit (a batch of writes in one transaction) took, by broker (the default one: only it keeps its state in storage) and provider; failed commits are not measured.",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = CommitBuckets });
        writer.RecordCommitDurationIn(duration, new System.Diagnostics.TagList { Broker(MqttOptions.DefaultBrokerName), label });
    }

    /// <summary>Messages waiting in the session queues of <paramref name="broker"/>.</summary>
    public static long QueueDepth(MqttBroker broker) => broker.EnumerateSessions().Sum(static s => (long)s.QueuedMessages);

    /// <summary>When the first of a listener's certificates (several with SNI) expires.</summary>
    public static DateTimeOffset FirstToExpire(ServerCertificates certificates) =>
        new(certificates.Current.Min(static c => c.Certificate.NotAfter.ToUniversalTime()));

    private static IEnumerable<Measurement<long>> ActiveAlarms(AlarmBoard alarms)
    {
        foreach (var name in AlarmNames.All)
        {
            yield return new Measurement<long>(alarms.ActiveCount(name), new KeyValuePair<string, object?>("name", name));
        }
    }

    private static KeyValuePair<string, object?> Broker(string name) => new("broker", name);

    private static IEnumerable<Measurement<long>> PerBroker(IReadOnlyDictionary<string, MqttBroker> brokers, Func<MqttBroker, long> read)
    {
        foreach (var (name, broker) in brokers)
        {
            yield return new Measurement<long>(read(broker), Broker(name));
        }
    }

    private static IEnumerable<Measurement<long>> PerQos(IReadOnlyDictionary<string, MqttBroker> brokers, Func<BrokerStatistics, QualityOfService, long> read)
    {
        foreach (var (name, broker) in brokers)
        {
            foreach (var qos in Levels)
            {
                yield return new Measurement<long>(read(broker.Statistics, qos), Broker(name), new KeyValuePair<string, object?>("qos", (int)qos));
            }
        }
    }

    /// <summary>A counter of every broker by <c>reason</c>, every reason reported (zeros included).</summary>
    private static IEnumerable<Measurement<long>> PerReason<TReason>(IReadOnlyDictionary<string, MqttBroker> brokers, TReason[] reasons,
        Func<TReason, string> label, Func<BrokerStatistics, TReason, long> read)
    {
        foreach (var (name, broker) in brokers)
        {
            foreach (var reason in reasons)
            {
                yield return new Measurement<long>(read(broker.Statistics, reason), Broker(name), new KeyValuePair<string, object?>("reason", label(reason)));
            }
        }
    }

    private IEnumerable<Measurement<long>> AuthenticationFailures(IReadOnlyDictionary<string, MqttBroker> brokers)
    {
        yield return new Measurement<long>(AdminLoginFailures, new KeyValuePair<string, object?>("kind", "admin_login"));
        foreach (var (name, broker) in brokers)
        {
            yield return new Measurement<long>(broker.Statistics.AuthenticationFailures, Broker(name), new KeyValuePair<string, object?>("kind", "mqtt_connect"));
        }
    }

    private static IEnumerable<Measurement<long>> PerBanKind(BanList bans, Func<BanList, BanKind, long> read)
    {
        foreach (var kind in Enum.GetValues<BanKind>())
        {
            yield return new Measurement<long>(read(bans, kind), new KeyValuePair<string, object?>("kind", BansApi.KindName(kind)));
        }
    }

    private static IEnumerable<Measurement<long>> AuthenticationDecisions(AuthenticationChain authentication)
    {
        foreach (var (method, result, count) in authentication.Decisions())
        {
            yield return new Measurement<long>(count, new KeyValuePair<string, object?>("result", result), new KeyValuePair<string, object?>("method", method));
        }
    }

    private static IEnumerable<Measurement<long>> BackendErrors(AuthenticationChain authentication)
    {
        foreach (var authenticator in authentication.Authenticators)
        {
            if (authenticator is BackendAuthenticator backend)
            {
                KeyValuePair<string, object?> method = new("method", backend.Method), name = new("authenticator", backend.Name);
                yield return new Measurement<long>(backend.Timeouts, method, name, new KeyValuePair<string, object?>("reason", "timeout"));
                yield return new Measurement<long>(backend.Errors, method, name, new KeyValuePair<string, object?>("reason", "error"));
            }
        }
    }

    private static IEnumerable<Measurement<double>> CertificateExpiry(BoundListeners listeners, TimeProvider time)
    {
        var now = time.GetUtcNow();
        foreach (var listener in listeners.Mqtt)
        {
            if (listener.Certificates is { } certificates)
            {
                yield return new Measurement<double>((FirstToExpire(certificates) - now).TotalSeconds, Broker(listener.Broker),
                    new KeyValuePair<string, object?>("listener", listener.Url));
            }
        }
    }

    private static IEnumerable<Measurement<long>> AuthorizationDecisions(MqttAuthorization authorization)
    {
        foreach (var (action, result, count) in authorization.Decisions())
        {
            yield return new Measurement<long>(count, new KeyValuePair<string, object?>("action", action), new KeyValuePair<string, object?>("result", result));
        }
    }

    private static IEnumerable<Measurement<long>> AccessAuditDrops(MqttAuthorization authorization)
    {
        foreach (var (reason, count) in authorization.AuditDrops())
        {
            yield return new Measurement<long>(count, new KeyValuePair<string, object?>("reason", reason));
        }
    }

    private static IEnumerable<Measurement<long>> ConnectionsByListener(IReadOnlyDictionary<string, MqttBroker> brokers, BoundListeners listeners)
    {
        foreach (var (name, broker) in brokers)
        {
            var counts = broker.CountConnections();
            foreach (var bound in listeners.Mqtt)
            {
                if (!string.Equals(bound.Broker, name, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var listener = bound.Url;
                foreach (var version in ReportedVersions)
                {
                    yield return new Measurement<long>(counts.GetValueOrDefault((listener, version)), Broker(name),
                        new KeyValuePair<string, object?>("listener", listener), new KeyValuePair<string, object?>("protocol", ProtocolVersions.Name(version)));
                }
            }
        }
    }
}
