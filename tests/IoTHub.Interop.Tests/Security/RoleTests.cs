using System.Diagnostics;
using System.Net;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The database users' host with <c>Security:AclDefault=deny</c>: a client may do only what stored rules (its user's,
/// its roles', everyone's) grant, unless its user is a superuser.
/// </summary>
public class RolesHost : DatabaseUsersHost
{
    public RolesHost()
        : this(new Dictionary<string, string>())
    {
    }

    /// <param name="settings">More settings, e.g. more authenticators after the Database one (<c>Security:Authenticators:1</c>...).</param>
    /// <param name="logs">Also receives the host's log, when given.</param>
    protected RolesHost(IReadOnlyDictionary<string, string> settings, LogCapture? logs = null)
        : base(new Dictionary<string, string>(settings) { ["Security:AclDefault"] = "deny" }, logs)
    {
    }

    /// <summary>Creates a role with one rule (allow or deny, publish, subscribe or both) and returns the rule's id.</summary>
    public async Task<int> CreateRoleAsync(string role, string permission, string action, string topicFilter)
    {
        await ApiAsync(HttpMethod.Post, "/api/v1/roles", new { name = role }, HttpStatusCode.Created);
        return await CreateRuleAsync(new { scope = "role", role, permission, action, topicFilter });
    }

    public async Task<int> CreateRuleAsync(object rule) =>
        (await ApiAsync(HttpMethod.Post, "/api/v1/acl-rules", rule, HttpStatusCode.Created)).GetProperty("id").GetInt32();

    public Task SetRolesAsync(string userName, params string[] roles) =>
        ApiAsync(HttpMethod.Put, $"/api/v1/mqtt-users/{userName}/roles", new { roles }, HttpStatusCode.OK);
}

/// <summary>
/// Issue 17 milestone 2, roles and stored rules through the admin API, with clients written by others: mosquitto_sub and
/// mosquitto_pub get what their roles grant (SUBACK 0x80 in 3.1.1 [MQTT-3.9.3-2], 0x87 in 5.0 for the refused filter
/// alone), a user's own rule beats its roles', a deny wins among the roles a user holds, everyone's rules come last, a
/// superuser is never checked. Live: a change through the API reaches connected clients within a second, its
/// subscriptions the rules no longer allow are removed and stop delivering (MQTT has no packet that tells the client,
/// so the test shows it by what arrives), and a role given to a connected user applies to its next PUBLISH. The access
/// audit (milestone 3) names the role rule behind a refusal.
/// </summary>
public sealed class RoleTests(RolesHost fixture) : IClassFixture<RolesHost>
{
    private static readonly TimeSpan WithinASecond = TimeSpan.FromSeconds(1);

    private readonly InteropHost _host = fixture.Host;

    [Theory]
    [InlineData(Protocol.V311, "128")]
    [InlineData(Protocol.V500, "135")]
    public async Task Mosquitto_clients_get_what_their_role_grants_and_nothing_else(Protocol protocol, string refused)
    {
        var role = $"sensors-{protocol}";
        var member = $"sensor-{protocol}";
        var outsider = $"outsider-{protocol}";
        await fixture.CreateRoleAsync(role, "allow", "both", "sensors/%u/#");
        await fixture.CreateAsync(member, "member-password");
        await fixture.CreateAsync(outsider, "outsider-password");
        await fixture.SetRolesAsync(member, role);

        // The role grants the member its own tree (the %u pattern) and nothing of another's: one granted, one refused.
        using var subscriber = Mosquitto.SubscribeWith(_host, protocol, "-i", member + "-sub", "-u", member, "-P", "member-password",
            "-q", "1", "-t", $"sensors/{member}/#", "-t", "sensors/elsewhere/#", "-C", "1", "-W", "30");
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);
        Assert.Contains(subscriber.Lines, line => line.StartsWith("Subscribed (mid: ", StringComparison.Ordinal) && line.EndsWith($": 1, {refused}", StringComparison.Ordinal));

        // A user without the role may not publish there (3.1.1: acknowledged and dropped; 5.0 PUBACK 0x87, which mosquitto_pub reports as a failure).
        if (protocol == Protocol.V311)
        {
            await Mosquitto.PublishWithAsync(_host, protocol, "-u", outsider, "-P", "outsider-password", "-q", "1", "-t", $"sensors/{member}/t", "-m", "outsider");
        }

        await Mosquitto.PublishWithAsync(_host, protocol, "-u", member, "-P", "member-password", "-q", "1", "-t", $"sensors/{member}/t", "-m", "member");
        await subscriber.WaitForSuccessAsync();
        Assert.Equal("member", Assert.Single(Mosquitto.Messages(subscriber)).Payload);
    }

    [Fact]
    public async Task A_users_own_rule_beats_its_roles_a_deny_wins_among_its_roles_and_everyones_rules_come_last()
    {
        await fixture.CreateRoleAsync("plant-operators", "allow", "both", "plant/#");
        await fixture.CreateRoleAsync("plant-trainees", "deny", "publish", "plant/valves/#");
        await fixture.CreateAsync("trainee", "trainee-password");
        await fixture.SetRolesAsync("trainee", "plant-operators", "plant-trainees");
        await fixture.CreateRuleAsync(new { scope = "user", userName = "trainee", permission = "allow", action = "publish", topicFilter = "plant/valves/practice" });
        await fixture.CreateRuleAsync(new { scope = "everyone", permission = "allow", action = "subscribe", topicFilter = "plant-news/#" });
        await fixture.CreateRuleAsync(new { scope = "everyone", permission = "deny", action = "both", topicFilter = "plant/secret/#" });

        await using var trainee = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "trainee-1", userName: "trainee", password: "trainee-password");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await PublishAsync(trainee, "plant/valves/main")).ReasonCode); // the trainees' deny
        AssertAccepted(await PublishAsync(trainee, "plant/valves/practice")); // her own allow
        AssertAccepted(await PublishAsync(trainee, "plant/lights")); // the operators' allow
        AssertAccepted(await PublishAsync(trainee, "plant/secret/x")); // a role beats everyone

        var subscribed = await trainee.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("plant-news/+", MqttQualityOfServiceLevel.AtLeastOnce) // everyone's allow: her scopes say nothing about it
            .WithTopicFilter("elsewhere/#", MqttQualityOfServiceLevel.AtLeastOnce) // nobody's rule: the default, deny
            .Build());
        Assert.Equal([MqttClientSubscribeResultCode.GrantedQoS1, MqttClientSubscribeResultCode.NotAuthorized], subscribed.Items.Select(static i => i.ResultCode));
    }

    [Fact]
    public async Task A_superuser_is_never_checked_and_loses_its_denied_subscriptions_within_a_second_when_the_flag_goes()
    {
        await fixture.ApiAsync(HttpMethod.Post, "/api/v1/mqtt-users", new { userName = "root", password = "root-password", superuser = true }, HttpStatusCode.Created);
        await fixture.CreateRuleAsync(new { scope = "user", userName = "root", permission = "allow", action = "subscribe", topicFilter = "root/marker" });
        await using var root = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "root-1", userName: "root", password: "root-password");
        await root.SubscribeAsync("#", 1);
        await root.SubscribeAsync("root/marker", 1);
        AssertAccepted(await PublishAsync(root, "anything/at/all"));
        Assert.Equal("anything/at/all", Assert.Single(await root.WaitForMessagesAsync(1)).Topic);

        var clock = Stopwatch.StartNew();
        await fixture.SendAsync(HttpMethod.Put, "/root", new { superuser = false }, HttpStatusCode.OK);
        await Poll.UntilAsync(() => _host.Broker.GetSubscriptions("root-1")!.All(static s => s.TopicFilter != "#"), WithinASecond - clock.Elapsed);

        _host.Broker.Publish(AclFileTests.Message("anything/else", "after"));
        _host.Broker.Publish(AclFileTests.Message("root/marker", "marker"));
        Assert.Equal(["anything/at/all", "root/marker"], (await root.WaitForMessagesAsync(2)).Select(static m => m.Topic));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await PublishAsync(root, "anything/at/all")).ReasonCode);
    }

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task A_subscription_a_changed_rule_no_longer_allows_is_removed_within_a_second_and_stops_receiving(Protocol protocol)
    {
        var user = $"reader-{protocol}";
        var ruleId = await fixture.CreateRoleAsync($"readers-{protocol}", "allow", "subscribe", $"feeds/{protocol}/#");
        await fixture.CreateAsync(user, "reader-password");
        await fixture.SetRolesAsync(user, $"readers-{protocol}");
        await fixture.CreateRuleAsync(new { scope = "user", userName = user, permission = "allow", action = "subscribe", topicFilter = $"markers/{user}" });
        await using var reader = await MqttNetClient.ConnectAsync(_host, protocol, user + "-1", userName: user, password: "reader-password");
        await reader.SubscribeAsync($"feeds/{protocol}/#", 1);
        await reader.SubscribeAsync($"markers/{user}", 1);
        _host.Broker.Publish(AclFileTests.Message($"feeds/{protocol}/a", "before"));
        Assert.Equal("before", Assert.Single(await reader.WaitForMessagesAsync(1)).Payload);

        // The role's rule now denies what it allowed.
        var clock = Stopwatch.StartNew();
        await fixture.ApiAsync(HttpMethod.Put, $"/api/v1/acl-rules/{ruleId}",
            new { scope = "role", role = $"readers-{protocol}", permission = "deny", action = "subscribe", topicFilter = $"feeds/{protocol}/#" }, HttpStatusCode.OK);
        await Poll.UntilAsync(() => _host.Broker.GetSubscriptions(user + "-1")!.All(s => s.TopicFilter != $"feeds/{protocol}/#"), WithinASecond - clock.Elapsed);

        _host.Broker.Publish(AclFileTests.Message($"feeds/{protocol}/a", "after"));
        _host.Broker.Publish(AclFileTests.Message($"markers/{user}", "marker"));
        Assert.Equal(["before", "marker"], (await reader.WaitForMessagesAsync(2)).Select(static m => m.Payload));

        // And it may not subscribe again: 5.0 SUBACK 0x87, 3.1.1 0x80 [MQTT-3.9.3-2] (MQTTnet reads it as an unspecified error).
        var again = await reader.Client.SubscribeAsync($"feeds/{protocol}/#", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal(protocol == Protocol.V500 ? MqttClientSubscribeResultCode.NotAuthorized : MqttClientSubscribeResultCode.UnspecifiedError,
            again.Items.Single().ResultCode);
    }

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task A_role_given_to_a_connected_user_applies_at_once_and_taking_it_away_stops_mosquitto_sub_receiving(Protocol protocol)
    {
        var user = $"grower-{protocol}";
        await fixture.CreateRoleAsync($"growers-{protocol}", "allow", "both", "gardens/%u/#");
        await fixture.CreateAsync(user, "grower-password");
        await fixture.CreateRuleAsync(new { scope = "user", userName = user, permission = "allow", action = "subscribe", topicFilter = $"markers/{user}" });

        // Connected before it holds the role: its PUBLISH is refused (5.0 PUBACK 0x87, 3.1.1 dropped) and decided from the cache after that.
        await using var grower = await MqttNetClient.ConnectAsync(_host, Protocol.V500, user + "-pub", userName: user, password: "grower-password");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await PublishAsync(grower, $"gardens/{user}/tomatoes")).ReasonCode);

        await fixture.SetRolesAsync(user, $"growers-{protocol}");
        using var subscriber = Mosquitto.SubscribeWith(_host, protocol, "-i", user + "-sub", "-u", user, "-P", "grower-password",
            "-q", "1", "-t", $"gardens/{user}/#", "-t", $"markers/{user}", "-C", "2", "-W", "30");
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);
        AssertAccepted(await PublishAsync(grower, $"gardens/{user}/tomatoes"));
        await subscriber.WaitForLineAsync(Mosquitto.IsMessage);

        var clock = Stopwatch.StartNew();
        await fixture.SetRolesAsync(user);
        await Poll.UntilAsync(() => _host.Broker.GetSubscriptions(user + "-sub")!.All(s => s.TopicFilter != $"gardens/{user}/#"), WithinASecond - clock.Elapsed);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await PublishAsync(grower, $"gardens/{user}/beans")).ReasonCode);

        _host.Broker.Publish(AclFileTests.Message($"gardens/{user}/beans", "after"));
        _host.Broker.Publish(AclFileTests.Message($"markers/{user}", "marker"));
        await subscriber.WaitForSuccessAsync();
        Assert.Equal(["gardens/" + user + "/tomatoes", "markers/" + user], Mosquitto.Messages(subscriber).Select(static m => m.Topic));
    }

    [Fact]
    public async Task A_refusal_by_a_role_rule_is_audited_naming_that_rule_of_that_role()
    {
        await fixture.CreateRoleAsync("audit-operators", "allow", "both", "audited/#");
        var denyId = await fixture.CreateRoleAsync("audit-trainees", "deny", "both", "audited/valves/#");
        await fixture.CreateAsync("audit-trainee", "trainee-password");
        await fixture.SetRolesAsync("audit-trainee", "audit-operators", "audit-trainees");

        // A deny of one of her roles wins over an allow of the other: PUBACK 0x87 (5.0 §3.4.2.1), SUBACK 0x80 (3.1.1 [MQTT-3.9.3-2]).
        await using (var trainee = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "audit-trainee-net", userName: "audit-trainee", password: "trainee-password"))
        {
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await PublishAsync(trainee, "audited/valves/main")).ReasonCode);
            AssertAccepted(await PublishAsync(trainee, "audited/lights")); // allowed: not recorded (RecordAllowed is off)
        }

        using (var subscriber = Mosquitto.SubscribeWith(_host, Protocol.V311, "-i", "audit-trainee-sub", "-u", "audit-trainee", "-P", "trainee-password",
            "-q", "1", "-t", "audited/lights", "-t", "audited/valves/+", "-C", "1", "-W", "30"))
        {
            await Mosquitto.WaitUntilSubscribedAsync(subscriber);
            Assert.Contains(subscriber.Lines, static line => line.StartsWith("Subscribed (mid: ", StringComparison.Ordinal) && line.EndsWith(": 1, 128", StringComparison.Ordinal));
        }

        var trainees = $"role:audit-trainees#{denyId}";
        Assert.Equal([("publish", "audited/valves/main", "deny", trainees)], await AccessDecisionsAsync("audit-trainee-net", 1));
        Assert.Equal([("subscribe", "audited/valves/+", "deny", trainees)], await AccessDecisionsAsync("audit-trainee-sub", 1));
    }

    /// <summary>The access audit's decisions about <paramref name="clientId"/>, oldest first, once there are <paramref name="count"/> (polled, 20 s at most).</summary>
    private async Task<List<(string? Action, string? Topic, string? Result, string? Rule)>> AccessDecisionsAsync(string clientId, int count)
    {
        List<(string?, string?, string?, string?)> decisions = [];
        await Poll.UntilAsync(async () =>
        {
            var page = await fixture.ApiAsync(HttpMethod.Get, $"/api/v1/audit?kind=access&pageSize=500&clientId={Uri.EscapeDataString(clientId)}", null, HttpStatusCode.OK);
            decisions = [.. page.GetProperty("items").EnumerateArray().Reverse().Select(static e => (e.GetProperty("action").GetString(), e.GetProperty("topic").GetString(),
                e.GetProperty("result").GetString(), e.GetProperty("rule").GetString()))];
            return decisions.Count >= count;
        }, TimeSpan.FromSeconds(20), $"the access audit has no {count} entries about {clientId}");
        return decisions;
    }

    /// <summary>PUBACK 0x00, or 0x10 No matching subscribers: accepted either way (5.0 §3.4.2.1).</summary>
    private static void AssertAccepted(MqttClientPublishResult result) =>
        Assert.True(result.ReasonCode is MqttClientPublishReasonCode.Success or MqttClientPublishReasonCode.NoMatchingSubscribers, $"PUBACK {result.ReasonCode}");

    private static Task<MqttClientPublishResult> PublishAsync(MqttNetClient client, string topic) =>
        client.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("x").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
}
