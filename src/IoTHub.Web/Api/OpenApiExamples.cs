using System.Text.Json;
using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Mqtt;
using IoTHub.Web.Alarms;
using IoTHub.Web.Api.Accounts;
using IoTHub.Web.Api.AclRules;
using IoTHub.Web.Api.Alarms;
using IoTHub.Web.Api.ApiKeys;
using IoTHub.Web.Api.Audit;
using IoTHub.Web.Api.Auth;
using IoTHub.Web.Api.Bans;
using IoTHub.Web.Api.Brokers;
using IoTHub.Web.Api.Clients;
using IoTHub.Web.Api.Cluster;
using IoTHub.Cluster.Nodes;
using IoTHub.Web.Api.Config;
using IoTHub.Web.Api.Listeners;
using IoTHub.Web.Api.MqttUsers;
using IoTHub.Web.Api.Publish;
using IoTHub.Web.Api.Retained;
using IoTHub.Web.Api.Roles;
using IoTHub.Web.Api.Sessions;
using IoTHub.Web.Api.Statistics;
using IoTHub.Web.Api.Subscriptions;
using IoTHub.Web.Configuration;
using IoTHub.Web.Configuration.Mosquitto;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace IoTHub.Web.Api;

/// <summary>
/// An example for every request and response schema of the API, written as the records themselves
/// and serialized with the API's own JSON options, so an example cannot disagree with its schema.
/// Pages get one item of their item type's example.
/// </summary>
internal sealed class OpenApiExamples(IOptions<JsonOptions> json) : ISchemaFilter
{
    private static readonly DateTimeOffset At = new(2026, 11, 27, 9, 30, 0, TimeSpan.Zero);
    private static readonly SessionCounters SessionCounters = new(1_250, 160_000, 3_400, 410_000,
        new Dictionary<string, long> { ["queue_full"] = 0, ["expired"] = 2, ["too_large"] = 0, ["offline_qos0"] = 15, ["publish_refused"] = 1 });
    private static readonly ClientSummary Client = new("default", "sensor-17", "192.0.2.10:53412", "field-unit-3", "5.0", 0, 1, 2, At, 60, false, SessionCounters);
    private static readonly SubscriptionInfo Subscription = new("default", "sensor-17", "sensors/+/temp", 1, false, false, RetainHandling.SendAtSubscribe, 0);
    private static readonly MessageProperties Properties = new(ContentType: "text/plain", MessageExpiryInterval: 3600,
        UserProperties: [new UserPropertyItem("unit", "celsius")]);
    private static readonly ListenerInfo Listener = new("mqtt", "default", "127.0.0.1", 1883, true, "default", "tcp://127.0.0.1:1883");
    private static readonly BrokerCounters Counters = new("default", 12, 15, 40, 17, 14, 7, 120, 2, 98_000, 196_000, 14, 0, 99_500, 197_900, 6_400_000, 12_700_000);
    private static readonly ClusterNodeInfo Node = new("10.0.0.11:11111@502175380", "10.0.0.11:11111", "10.0.0.11", 11111, NodeStatus.Active, At.AddDays(-2),
        At.AddSeconds(-2), 4_120, true, 37);
    private static readonly ApiKeyInfo ApiKey = new(3, "backup", "viewer", "admin", At);

    private static readonly EffectiveSetting Setting = new("Security:PasswordFile", "/etc/mosquitto/passwd", "mosquitto.conf:14");

    private static readonly NotTakenDirective NotTaken = new("/etc/mosquitto/mosquitto.conf", 9, "log_dest file /var/log/mosquitto/mosquitto.log",
        "logging is set with Logging:*");

    private static readonly Dictionary<Type, object> Examples = new()
    {
        [typeof(LoginRequest)] = new LoginRequest("admin", "choose-a-long-one"),
        [typeof(LoginResponse)] = new LoginResponse("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl", "Bearer", At.AddHours(1), 3600, "admin", "admin"),
        [typeof(CreateAccountRequest)] = new CreateAccountRequest("operator", "another-long-password", "viewer"),
        [typeof(UpdateAccountRequest)] = new UpdateAccountRequest(null, "admin"),
        [typeof(AccountInfo)] = new AccountInfo("operator", "viewer", At),
        [typeof(CreateApiKeyRequest)] = new CreateApiKeyRequest("backup", "viewer"),
        [typeof(CreatedApiKey)] = new CreatedApiKey(ApiKey, "iothub_3Jb9wQk2Zr5TnV8xL1cYhP0dMfA7sGeU"),
        [typeof(ApiKeyInfo)] = ApiKey,
        [typeof(AuditEntry)] = new AuditEntry("access", At, null, "publish", null, "192.0.2.10:53412", null, "deny", "default", "tcp://0.0.0.0:1883",
            "field-unit-3", "sensor-17", "devices/sensor-18/telemetry", "/etc/iothub/acl:12"),
        [typeof(BanInfo)] = new BanInfo("address", "192.0.2.66", 10, At.AddMinutes(5)),
        [typeof(MqttUserInfo)] = new MqttUserInfo("field-unit-3", true, "%u-*", At, At.AddDays(2), false),
        [typeof(CreateMqttUserRequest)] = new CreateMqttUserRequest("field-unit-3", "a-device-password", true, "%u-*"),
        [typeof(UpdateMqttUserRequest)] = new UpdateMqttUserRequest("a-new-device-password", null, null),
        [typeof(ImportMqttUsersRequest)] = new ImportMqttUsersRequest("alice:$7$101$c2FsdHNhbHRzYWx0$...\nbob:$6$c2FsdA==$...\n"),
        [typeof(ImportMqttUsersResult)] = new ImportMqttUsersResult(["alice"], [new ImportProblem(2, "user 'bob' exists and is kept as it is")]),
        [typeof(ImportProblem)] = new ImportProblem(2, "user 'bob' exists and is kept as it is"),
        [typeof(RoleInfo)] = new RoleInfo("sensors", "Field units: their own telemetry, the shared configuration", At, At.AddDays(1)),
        [typeof(CreateRoleRequest)] = new CreateRoleRequest("sensors", "Field units: their own telemetry, the shared configuration"),
        [typeof(UpdateRoleRequest)] = new UpdateRoleRequest("field-sensors", null),
        [typeof(UserRolesInfo)] = new UserRolesInfo("field-unit-3", ["sensors"]),
        [typeof(SetUserRolesRequest)] = new SetUserRolesRequest(["sensors"]),
        [typeof(AclRuleInfo)] = new AclRuleInfo(7, "role", null, "sensors", "allow", "publish", "devices/%u/telemetry/#", true),
        [typeof(AclRuleRequest)] = new AclRuleRequest("role", null, "sensors", "allow", "publish", "devices/%u/telemetry/#"),
        [typeof(ListenerInfo)] = Listener,
        [typeof(BrokerInfo)] = new BrokerInfo("default", BrokerState.Running, [Listener], 12, 15, 40, 17, 14),
        [typeof(BrokerListener)] = new BrokerListener("secure", "tls", "tls://0.0.0.0:8883", "0.0.0.0", 8883, null, true,
            new ListenerTls("Tls12, Tls13", "None", [new ListenerCertificate("CN=broker.example.com", ["broker.example.com"], At.AddDays(90),
                "3C9F1A0B7E2D4C6B8A9F0E1D2C3B4A5968778695")]), 12),
        [typeof(ClientSummary)] = Client,
        [typeof(ClientDetails)] = new ClientDetails(Client, 3600, [Subscription], "tcp://0.0.0.0:1883", TransportKind.Tcp,
            new WillInfo("sensors/sensor-17/status", 1, true, 30, null), "keep-alive timeout"),
        [typeof(WillInfo)] = new WillInfo("sensors/sensor-17/status", 1, true, 30, null),
        [typeof(SessionCounters)] = SessionCounters,
        [typeof(SessionInfo)] = new SessionInfo("default", "sensor-17", false, null, null, 3600, 12, 0, 2, false, 0, null, null, null, null, null, At,
            At.AddHours(1), "keep-alive timeout", SessionCounters),
        [typeof(SubscriptionInfo)] = Subscription,
        [typeof(AddSubscriptionRequest)] = new AddSubscriptionRequest("sensor-17", "commands/sensor-17/#", 1),
        [typeof(MessageProperties)] = Properties,
        [typeof(UserPropertyItem)] = new UserPropertyItem("unit", "celsius"),
        [typeof(PublishRequest)] = new PublishRequest("sensors/kitchen/temp", "21.5", PayloadEncoding.Text, 1, true, Properties),
        [typeof(PublishResult)] = new PublishResult("default", "sensors/kitchen/temp", 3),
        [typeof(SetRetainedRequest)] = new SetRetainedRequest("21.5", PayloadEncoding.Text, 1, Properties),
        [typeof(DeletedRetained)] = new DeletedRetained(12),
        [typeof(DisconnectedClients)] = new DisconnectedClients(3),
        [typeof(EffectiveConfiguration)] = new EffectiveConfiguration("/etc/mosquitto/mosquitto.conf", [Setting], [NotTaken]),
        [typeof(EffectiveSetting)] = Setting,
        [typeof(NotTakenDirective)] = NotTaken,
        [typeof(RetainedMessageInfo)] = new RetainedMessageInfo("default", "sensors/kitchen/temp", 1, "MjEuNQ==", "21.5", 4, Properties, At,
            "sensor-17", "kitchen"),
        [typeof(BrokerCounters)] = Counters,
        [typeof(ClusterNodeInfo)] = Node,
        [typeof(ClusterInfo)] = new ClusterInfo(true, "iothub", Node.Id, [Node,
            Node with { Id = "10.0.0.12:11111@502175391", Name = "10.0.0.12:11111", Address = "10.0.0.12", LastHeartbeat = At.AddSeconds(-4), Connections = 3_980, Self = false },
            Node with { Id = "10.0.0.13:11111@502170012", Name = "10.0.0.13:11111", Address = "10.0.0.13", Status = NodeStatus.Dead, LastHeartbeat = At.AddMinutes(-3),
                Connections = null, Self = false }]),
        [typeof(DrainInfo)] = new DrainInfo(Node.Id, At),
        [typeof(StatisticsSummary)] = new StatisticsSummary(Counters with { Broker = "*" }, [Counters]),
        [typeof(Alarm)] = new Alarm(AlarmNames.ConnectionsHigh, "default", "91000 connections of at most 100000 (Mqtt:MaximumConnections).", At, null),
        [typeof(AlarmList)] = new AlarmList([new Alarm(AlarmNames.ConnectionsHigh, "default", "91000 connections of at most 100000 (Mqtt:MaximumConnections).", At, null)],
            [new Alarm(AlarmNames.StorageWriteErrors, "storage", "Storage writes fail: No space left on device.", At.AddHours(-2), At.AddHours(-2).AddMinutes(3))]),
        [typeof(HistorySeriesValues)] = new HistorySeriesValues("messages_in", "messages/s", [412.5, 398.1, 430.0]),
        [typeof(StatisticsHistory)] = new StatisticsHistory("15m", 10, [At, At.AddSeconds(10), At.AddSeconds(20)],
            [new HistorySeriesValues("connections", "connections", [12, 12, 13]), new HistorySeriesValues("messages_in", "messages/s", [412.5, 398.1, 430.0])]),
        [typeof(ProblemDetails)] = new ProblemDetails
        {
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.5",
            Title = "Not Found",
            Status = StatusCodes.Status404NotFound,
            Detail = "No connected client 'sensor-99' on broker 'default'.",
        },
        [typeof(HttpValidationProblemDetails)] = new HttpValidationProblemDetails(new Dictionary<string, string[]> { ["topic"] = ["must not contain wildcards."] })
        {
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            Title = "Bad Request",
            Status = StatusCodes.Status400BadRequest,
            Detail = "topic must not contain wildcards.",
        },
    };

    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is OpenApiSchema concrete && Example(context.Type) is { } example)
        {
            concrete.Examples = [JsonSerializer.SerializeToNode(example, context.Type, json.Value.SerializerOptions)!];
        }
    }

    /// <summary>The example of a type, or a page holding one example item; null for types without one (enums, primitives).</summary>
    private static object? Example(Type type)
    {
        if (Examples.TryGetValue(type, out var example))
        {
            return example;
        }

        if (!type.IsGenericType || type.GetGenericTypeDefinition() != typeof(ResultPage<>) || !Examples.TryGetValue(type.GetGenericArguments()[0], out var item))
        {
            return null;
        }

        var items = Array.CreateInstance(item.GetType(), 1);
        items.SetValue(item, 0);
        return Activator.CreateInstance(type, items, 1, 20, 1);
    }
}
