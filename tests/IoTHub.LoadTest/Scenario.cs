using System.Globalization;
using IoTHub.Mqtt;

namespace IoTHub.LoadTest;

internal enum ScenarioKind
{
    /// <summary>Closed loop: each publisher at most a window of messages ahead of delivery.</summary>
    Throughput,

    /// <summary>One publisher at a fixed rate, one subscriber.</summary>
    Latency,

    /// <summary>Connections that only CONNECT and then stay idle: broker RSS per connection.</summary>
    Idle,

    /// <summary>CONNECT/CONNACK/DISCONNECT as fast as a few concurrent clients can go.</summary>
    ConnectRate,

    /// <summary>
    /// Open loop: publishers offer fixed rates (<see cref="OpenLoopPlan"/>) whatever is delivered, and the
    /// deliveries are counted, so an overloaded broker shows as delivered &lt; offered instead of slowing the
    /// publishers down as the closed loop's credits would.
    /// </summary>
    OpenLoop,
}

/// <summary>What the connect scenarios' clients prove in CONNECT (issue 15's benchmark).</summary>
internal enum ConnectAuthentication
{
    /// <summary>Anonymous clients.</summary>
    None,

    /// <summary>User name and password checked against a password file.</summary>
    PasswordFile,

    /// <summary>User name and password checked against IoTHub's users in its database (IoTHub only).</summary>
    Database,

    /// <summary>User name and password checked by an HTTP authentication webhook the tool serves on loopback (IoTHub only).</summary>
    Webhook,

    /// <summary>User name and password checked against a bcrypt hash in a PostgreSQL table the tool serves on loopback (IoTHub only).</summary>
    Sql,

    /// <summary>The same with the password itself in the table (PasswordHash=Plain): the query's cost alone (IoTHub only).</summary>
    SqlPlain,

    /// <summary>A user name and an HMAC-signed JWT as the password, checked by the broker alone (IoTHub only).</summary>
    Jwt,

    /// <summary>User name and password checked by an OpenLDAP directory the tool serves on loopback, search then bind over StartTLS (IoTHub only).</summary>
    Ldap,
}

internal enum Topology
{
    /// <summary>Publisher i to subscriber i, each pair its own topic.</summary>
    PointToPoint,

    /// <summary>One publisher, every subscriber on its topic.</summary>
    FanOut,

    /// <summary>Every publisher to one subscriber's topic.</summary>
    FanIn,

    /// <summary>Subscribers hold one subscription per device; publishers pick a device at random.</summary>
    Devices,
}

/// <summary>One measured situation. Counts are fixed here; durations come from the settings.</summary>
internal sealed record Scenario(
    string Name,
    string Description,
    ScenarioKind Kind,
    Topology Topology = Topology.PointToPoint,
    int Publishers = 4,
    int Subscribers = 4,
    QualityOfService Qos = QualityOfService.AtMostOnce,
    int PayloadSize = 64,
    int Devices = 0,
    int Rate = 0,
    OpenLoopPlan? Plan = null,
    ConnectAuthentication Authentication = ConnectAuthentication.None,
    bool ReuseClientIds = false,
    string? ScramMethod = null,
    bool ResumeTlsSessions = false,
    int MaxConnects = int.MaxValue,
    bool Fresh = false,
    int Nodes = 1,
    bool SharedStore = false)
{
    /// <summary>
    /// The node subscriber <paramref name="i"/> connects to when the scenario runs on <see cref="Nodes"/> cluster nodes (IoTHub only;
    /// publishers on the first): a fan-out's subscribers spread over every node, the others' all on the second (every message
    /// crosses nodes).
    /// </summary>
    public int SubscriberNode(int i) => Topology == Topology.FanOut ? i % Nodes : 1;

    /// <summary>
    /// The device pair again at one offered load, below IoTHub's, Mosquitto's and the tool's limits here
    /// (the MQTTnet server cannot reach it and runs saturated). At saturation both processes run at about
    /// 98 % of a core and batch sizes, not routing, decide the cost per message: the same saturated pair
    /// gave 0.91x to 1.37x in seven runs on a quiet machine.
    /// </summary>
    private const int DevicesPacedRate = 40_000;

    /// <summary>
    /// A cold check of a slow hash (210 000 PBKDF2 rounds, bcrypt of cost 10: some 0.05 to 0.1 s of a core) is all these
    /// connects measure: fewer of them keep the run short.
    /// </summary>
    private const int SlowHashConnects = 400;

    /// <summary>
    /// The paced fan-outs' publish rate, well below saturation on one core for one node and for three: the closed-loop fan-outs
    /// measure how bursty the loop gets as much as the brokers (a burst is one write per subscriber for many messages), so the
    /// cost per delivery as nodes are added is compared at one fixed offered load.
    /// </summary>
    private const int PacedFanOutRate = 400;

    public static IReadOnlyList<Scenario> All(Settings settings) =>
    [
        new("p2p-qos0", "point-to-point 4→4, QoS 0, 64 B", ScenarioKind.Throughput),
        new("p2p-qos1", "point-to-point 4→4, QoS 1, 64 B", ScenarioKind.Throughput, Qos: QualityOfService.AtLeastOnce),
        new("p2p-qos2", "point-to-point 4→4, QoS 2, 64 B", ScenarioKind.Throughput, Qos: QualityOfService.ExactlyOnce),
        new("p2p-qos0-16B", "point-to-point 4→4, QoS 0, 16 B", ScenarioKind.Throughput, PayloadSize: 16),
        new("p2p-qos0-1KB", "point-to-point 4→4, QoS 0, 1 KB", ScenarioKind.Throughput, PayloadSize: 1024),
        new("p2p-qos0-64KB", "point-to-point 4→4, QoS 0, 64 KB", ScenarioKind.Throughput, PayloadSize: 65536),
        new("fanout-1000", "fan-out 1→1000, QoS 0, 64 B", ScenarioKind.Throughput, Topology.FanOut, 1, 1000),
        new("fanin-16", "fan-in 16→1, QoS 0, 64 B", ScenarioKind.Throughput, Topology.FanIn, 16, 1),
        new("latency-10k", "1→1 at 10 000 msgs/s, QoS 0, 64 B", ScenarioKind.Latency, Publishers: 1, Subscribers: 1, Rate: 10_000),
        new("latency-50k", "1→1 at 50 000 msgs/s, QoS 0, 64 B (50 messages each millisecond)", ScenarioKind.Latency, Publishers: 1, Subscribers: 1, Rate: 50_000),
        new("cluster-p2p-qos0", "p2p-qos0 across two cluster nodes: publishers on the first, subscribers on the second (IoTHub only)", ScenarioKind.Throughput, Nodes: 2),
        new("cluster-p2p-qos1", "p2p-qos1 across two cluster nodes (IoTHub only)", ScenarioKind.Throughput, Qos: QualityOfService.AtLeastOnce, Nodes: 2),
        new("cluster-fanout-1000-2", "fanout-1000 on two cluster nodes: the publisher on the first, the subscribers spread over both (IoTHub only)",
            ScenarioKind.Throughput, Topology.FanOut, 1, 1000, Nodes: 2),
        new("cluster-fanout-1000-3", "fanout-1000 on three cluster nodes, the subscribers spread over the three (IoTHub only)",
            ScenarioKind.Throughput, Topology.FanOut, 1, 1000, Nodes: 3),
        new("fanout-1000-paced", $"fanout-1000 at a fixed {PacedFanOutRate:N0} msgs/s ({PacedFanOutRate:N0} 000 deliveries/s): the single-node baseline of the paced cluster fan-outs",
            ScenarioKind.Throughput, Topology.FanOut, 1, 1000, Rate: PacedFanOutRate),
        new("cluster-fanout-1000-2-paced", "cluster-fanout-1000-2 at the same fixed rate", ScenarioKind.Throughput, Topology.FanOut, 1, 1000, Rate: PacedFanOutRate, Nodes: 2),
        new("cluster-fanout-1000-3-paced", "cluster-fanout-1000-3 at the same fixed rate", ScenarioKind.Throughput, Topology.FanOut, 1, 1000, Rate: PacedFanOutRate, Nodes: 3),
        new("cluster-latency-10k", "latency-10k across two cluster nodes: the publisher on the first, the subscriber on the second (IoTHub only)",
            ScenarioKind.Latency, Publishers: 1, Subscribers: 1, Rate: 10_000, Nodes: 2),
        new("cluster-connect-rate", "connect-rate on the first of two cluster nodes, sessions in memory: each CONNECT claims its client id at its arbiter (IoTHub only)",
            ScenarioKind.ConnectRate, Nodes: 2),
        new("cluster-connect-rate-stored", "cluster-connect-rate with both nodes' sessions in the cluster's PostgreSQL: the claim's store transaction too (IoTHub only)",
            ScenarioKind.ConnectRate, Nodes: 2, SharedStore: true),
        new("devices-1k", "1 000 device subscriptions (100 clients), 4 publishers at random, QoS 0", ScenarioKind.Throughput, Topology.Devices, 4, 100, Devices: 1_000),
        new("devices-100k", "100 000 device subscriptions (100 clients), 4 publishers at random, QoS 0", ScenarioKind.Throughput, Topology.Devices, 4, 100, Devices: 100_000),
        new("devices-1k-paced", "devices-1k at a fixed 40 000 msgs/s", ScenarioKind.Throughput, Topology.Devices, 4, 100, Devices: 1_000, Rate: DevicesPacedRate),
        new("devices-100k-paced", "devices-100k at a fixed 40 000 msgs/s", ScenarioKind.Throughput, Topology.Devices, 4, 100, Devices: 100_000, Rate: DevicesPacedRate),
        new($"idle-{settings.IdleConnections}", $"{settings.IdleConnections:N0} idle connections", ScenarioKind.Idle),
        new("connect-rate", $"{settings.Connects:N0} CONNECT/CONNACK/DISCONNECT, 16 at a time (over tls and wss each a full TLS handshake)", ScenarioKind.ConnectRate),
        new("connect-rate-fresh", $"connect-rate measured from a fresh broker's first connect, without warm-up: what a fleet meets reconnecting after a restart",
            ScenarioKind.ConnectRate, Fresh: true),
        new("connect-rate-resume", "connect-rate over tls or wss, each TLS handshake resuming a session of an earlier connect (TLS 1.3 session tickets); skipped on tcp and ws",
            ScenarioKind.ConnectRate, ResumeTlsSessions: true),
        new("connect-same-ids", "connect-rate, but each of the 16 clients reconnects with its own client id (baseline of connect-password-file-warm)",
            ScenarioKind.ConnectRate, ReuseClientIds: true),
        new("connect-password-file", "connect-rate with a user name and password from a mosquitto_passwd file, a new client id each connect (IoTHub's cache misses)",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.PasswordFile),
        new("connect-password-file-warm", "connect-password-file with connect-same-ids's client ids (IoTHub's cache, keyed on user, password and client id, hits)",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.PasswordFile, ReuseClientIds: true),
        new("connect-database", $"connect-rate with a user of IoTHub's database (PBKDF2-SHA512, 210 000 iterations), a new client id each connect (cache misses); at most {SlowHashConnects} connects",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.Database, MaxConnects: SlowHashConnects),
        new("connect-database-warm", "connect-database with connect-same-ids's client ids (cache hits)",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.Database, ReuseClientIds: true),
        new("connect-scram-sha256", "connect-rate as MQTT 5.0 with SCRAM-SHA-256 enhanced authentication (CONNECT, AUTH, AUTH, CONNACK) for a database user, new client ids",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.Database, ScramMethod: "SCRAM-SHA-256"),
        new("connect-scram-sha512", "the same with SCRAM-SHA-512 (on the user's PBKDF2-SHA512 hash)",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.Database, ScramMethod: "SCRAM-SHA-512"),
        new("connect-webhook", "connect-rate with a user an authentication webhook served by the tool on loopback allows (one HTTP POST per connect), a new client id each connect (cache misses)",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.Webhook),
        new("connect-webhook-warm", "connect-webhook with connect-same-ids's client ids (cache hits: no request)",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.Webhook, ReuseClientIds: true),
        new("connect-sql", $"connect-rate with a user of a PostgreSQL table the tool serves on loopback (Type=Sql, one query per connect, bcrypt of cost {SqlUsers.BcryptCost}), a new client id each connect (cache misses); at most {SlowHashConnects} connects",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.Sql, MaxConnects: SlowHashConnects),
        new("connect-sql-warm", "connect-sql with connect-same-ids's client ids (cache hits: no query)",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.Sql, ReuseClientIds: true),
        new("connect-sql-plain", "connect-sql with the password itself in the table (PasswordHash=Plain): the query without the hash, cache misses",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.SqlPlain),
        new("connect-jwt", "connect-rate with an HS256 JWT the tool signs as the password (Type=Jwt with a Secret), new client ids; Jwt decisions are never cached, so there is no warm variant",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.Jwt),
        new("connect-ldap", "connect-rate with a user of an OpenLDAP directory the tool serves on loopback (Type=Ldap, search then bind over StartTLS, {SSHA} password), a new client id each connect (cache misses)",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.Ldap),
        new("connect-ldap-warm", "connect-ldap with connect-same-ids's client ids (cache hits: no request)",
            ScenarioKind.ConnectRate, Authentication: ConnectAuthentication.Ldap, ReuseClientIds: true),
        .. OpenLoopPlan.Scenarios,
    ];
}

/// <summary>
/// What an open-loop scenario offers (issue 26): the total rate of each step, each step as long as
/// --duration; a fixed warm-up at the first rate before the first step (none for a fresh broker); and
/// what else hangs on the topics: offline persistent sessions with full queues, or a subscriber that
/// has stopped reading. Every broker runs with the same queue limit per session.
/// </summary>
internal sealed record OpenLoopPlan(
    IReadOnlyList<int> Rates,
    double WarmupSeconds,
    int OfflineSessions = 0,
    bool StuckSubscriber = false,
    string? Baseline = null)
{
    /// <summary>Mosquitto's and IoTHub's default queue limit per session, set on all three brokers here.</summary>
    public const int QueueLimit = 1_000;

    /// <summary>
    /// QoS 1 PUBLISH packets an open-loop publisher may have unacknowledged: it does not wait for each
    /// PUBACK, but a broker that acknowledges nothing cannot make it buffer without bound.
    /// </summary>
    public const int InflightLimit = 1_000;

    /// <summary>Messages published into the offline sessions before the load, past the queue limit so every queue is full.</summary>
    public const int FillMessages = QueueLimit + 100;

    /// <summary>
    /// The measurements: 20 offline sessions on bench/# with full queues beside one live QoS 1 pair
    /// at 20 000 msgs/s; a stuck subscriber on bench/# beside a live QoS 0 pair at 100 000 msgs/s; and a
    /// fresh broker offered 100k, 200k, 400k, 800k, then 200k and 100k msgs/s again, 4→4 QoS 0.
    /// The baselines are the same runs without the offline sessions or the stuck subscriber.
    /// </summary>
    public static IEnumerable<Scenario> Scenarios =>
    [
        new("offline-none", "live QoS 1 pair on bench/0 at 20 000 msgs/s (baseline of offline-full)", ScenarioKind.OpenLoop,
            Publishers: 1, Subscribers: 1, Qos: QualityOfService.AtLeastOnce, Plan: new([20_000], 10)),
        new("offline-full", "offline-none beside 20 offline persistent sessions on bench/# with full queues", ScenarioKind.OpenLoop,
            Publishers: 1, Subscribers: 1, Qos: QualityOfService.AtLeastOnce, Plan: new([20_000], 10, OfflineSessions: 20, Baseline: "offline-none")),
        new("stuck-none", "live QoS 0 pair on bench/0 at 100 000 msgs/s (baseline of stuck-subscriber)", ScenarioKind.OpenLoop,
            Publishers: 1, Subscribers: 1, Plan: new([100_000], 5)),
        new("stuck-subscriber", "stuck-none beside a subscriber on bench/# that never reads", ScenarioKind.OpenLoop,
            Publishers: 1, Subscribers: 1, Plan: new([100_000], 5, StuckSubscriber: true, Baseline: "stuck-none")),
        new("overload", "fresh broker, 4→4 QoS 0 offered 100k, 200k, 400k, 800k, 200k, 100k msgs/s", ScenarioKind.OpenLoop,
            Plan: new([100_000, 200_000, 400_000, 800_000, 200_000, 100_000], 0)),
    ];
}

/// <summary>One open-loop step: what was offered, published and delivered, and what it cost the broker.</summary>
/// <param name="Offered">Messages per second the publishers were told to send, in all.</param>
/// <param name="Published">Messages per second they did write (less when the broker's TCP back-pressure held them up).</param>
/// <param name="Delivered">Messages per second the measured subscribers received.</param>
/// <param name="BrokerCpu">Share of one core the broker used.</param>
/// <param name="ToolCpu">Share of one core the tool used: near 1.0 means the tool may be the limit.</param>
internal sealed record RateStep(int Offered, double Published, double Delivered, double BrokerCpu, double ToolCpu, LatencyHistogram Latency)
{
    public double CpuMicroseconds => Delivered > 0 ? BrokerCpu * 1e6 / Delivered : double.NaN;
}

/// <summary>What one broker did in one scenario.</summary>
internal sealed record Result(Scenario Scenario, BrokerKind Broker)
{
    /// <summary>What the clients spoke MQTT over.</summary>
    public Transport Transport { get; init; }

    /// <summary>Rules of the acl_file the broker read (0: none, nothing checked).</summary>
    public int AclRules { get; init; }

    /// <summary>
    /// The row's name: the scenario's, followed by the transport unless it is tcp and by the access rules if any
    /// (<c>p2p-qos0 tls</c>, <c>p2p-qos0 acl-1000</c>).
    /// </summary>
    public string Label => Scenario.Name + (Transport == Transport.Tcp ? "" : " " + Transport.Name())
        + (AclRules == 0 ? "" : " acl-" + AclRules.ToString(CultureInfo.InvariantCulture));

    /// <summary>Deliveries per second (connects per second for the connection rate).</summary>
    public double Rate { get; init; }

    /// <summary>Broker CPU time per delivery (per connection for the connection rate), in microseconds.</summary>
    public double CpuMicroseconds { get; init; }

    public long RssBytes { get; init; }

    /// <summary>RSS growth per idle connection, in bytes.</summary>
    public double RssPerConnection { get; init; }

    public LatencyHistogram? Latency { get; init; }

    /// <summary>How long the load ran before measuring (throughput and latency scenarios).</summary>
    public Warmup? Warmup { get; init; }

    /// <summary>Times a publisher waited a whole second for delivery (messages lost or stuck).</summary>
    public long Stalls { get; init; }

    public string? Error { get; init; }

    /// <summary>Share of one core the load tool used while measuring: near 1.0 means the tool may be the limit.</summary>
    public double ToolCpu { get; init; }

    /// <summary>Share of one core the broker used while measuring.</summary>
    public double BrokerCpu { get; init; }

    /// <summary>The open-loop steps, in order.</summary>
    public IReadOnlyList<RateStep> Steps { get; init; } = [];

    /// <summary>What the open-loop run observed besides the rates (loss on the live pair, the stuck subscriber's state).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
}

/// <summary>How long a scenario warmed up, and whether the broker's CPU per delivery settled in that time.</summary>
internal sealed record Warmup(double Seconds, bool Settled);
