using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests.Security;

/// <summary>The acl_file host of <see cref="AclFileHost"/> with the admin API's password chosen, and the access audit's keys.</summary>
public class AuditedAclFileHost(bool recordAllowed) : AclFileHost(Settings(recordAllowed))
{
    /// <summary>Where a line of <see cref="AclFileHost.Rules"/> is, as the audit names the rule that decided.</summary>
    public string Line(int line) => AclFile + ":" + line.ToString(CultureInfo.InvariantCulture);

    /// <summary>The access audit's entries about <paramref name="clientId"/>, oldest first, once there are <paramref name="count"/>.</summary>
    public async Task<List<JsonElement>> WaitForEntriesAsync(string clientId, int count)
    {
        using var admin = await AdminClient.LoginAsync(Host);
        List<JsonElement> entries = [];
        await Poll.UntilAsync(async () =>
        {
            var page = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/audit?kind=access&pageSize=500&clientId={Uri.EscapeDataString(clientId)}");
            entries = [.. page.GetProperty("items").EnumerateArray().Reverse()];
            return entries.Count >= count;
        }, TimeSpan.FromSeconds(20), $"the access audit has no {count} entries about {clientId}");
        return entries;
    }

    private static Dictionary<string, string> Settings(bool recordAllowed)
    {
        AdminClient.ChoosePassword();
        return new() { ["Security:AccessAudit:RecordAllowed"] = recordAllowed ? "true" : "false" };
    }
}

/// <summary>The default: refusals are recorded, allowed decisions are not.</summary>
public sealed class RefusalsAuditedHost() : AuditedAclFileHost(recordAllowed: false);

/// <summary><c>Security:AccessAudit:RecordAllowed=true</c>.</summary>
public sealed class AllowsAuditedHost() : AuditedAclFileHost(recordAllowed: true);

/// <summary>
/// The audit of access decisions (issue 17) with clients written by others against the Mosquitto acl_file of
/// <see cref="AclFileHost.Rules"/>, read back through GET /api/v1/audit?kind=access: the refused PUBLISH and SUBSCRIBE of
/// MQTTnet (5.0), mosquitto_pub and mosquitto_sub (3.1.1), with who, from where, what and the rule that decided.
/// </summary>
public sealed class AccessAuditTests(RefusalsAuditedHost fixture) : IClassFixture<RefusalsAuditedHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Fact]
    public async Task A_refused_publish_is_recorded_with_who_from_where_what_and_the_rule()
    {
        var start = DateTimeOffset.UtcNow.AddSeconds(-1);

        // An anonymous 5.0 client may not write test/nosubscribe (line 3 denies it): PUBACK 0x87 (5.0 §3.4.2.1).
        await using (var anonymous = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "audit-pub-net"))
        {
            var refused = await anonymous.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("test/nosubscribe").WithPayload("x")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
        }

        // alice may only read news/#: 3.1.1 has no negative PUBACK, mosquitto_pub exits 0 and the message is dropped [MQTT-3.3.5-2].
        await Mosquitto.PublishWithAsync(_host, Protocol.V311, "-i", "audit-pub-mosquitto", "-u", "alice", "-P", PasswordFileHost.AlicePassword,
            "-q", "1", "-t", "news/today", "-m", "refused");

        var net = Assert.Single(await fixture.WaitForEntriesAsync("audit-pub-net", 1));
        AssertDecision(net, "publish", "test/nosubscribe", "deny", fixture.Line(3), userName: null);
        Assert.InRange(net.GetProperty("at").GetDateTimeOffset(), start, DateTimeOffset.UtcNow.AddSeconds(1));

        var mosquitto = Assert.Single(await fixture.WaitForEntriesAsync("audit-pub-mosquitto", 1));
        AssertDecision(mosquitto, "publish", "news/today", "deny", "default", userName: "alice"); // no rule lets alice write there
    }

    [Fact]
    public async Task A_refused_subscribe_is_recorded_for_that_filter_alone()
    {
        // SUBACK 0x80 for the refused filter of a 3.1.1 SUBSCRIBE [MQTT-3.9.3-2], the other one granted.
        using (var subscriber = Mosquitto.SubscribeWith(_host, Protocol.V311, "-i", "audit-sub-mosquitto", "-u", "alice", "-P", PasswordFileHost.AlicePassword,
            "-q", "1", "-t", "alice/in", "-t", "devices/bob/#", "-C", "1", "-W", "30"))
        {
            await Mosquitto.WaitUntilSubscribedAsync(subscriber);
            Assert.Contains(subscriber.Lines, static line => line.StartsWith("Subscribed (mid: ", StringComparison.Ordinal) && line.EndsWith(": 1, 128", StringComparison.Ordinal));
        }

        await using (var anonymous = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "audit-sub-net"))
        {
            var subscribed = await anonymous.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("test/nosubscribe").Build());
            Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, Assert.Single(subscribed.Items).ResultCode);
        }

        AssertDecision(Assert.Single(await fixture.WaitForEntriesAsync("audit-sub-mosquitto", 1)), "subscribe", "devices/bob/#", "deny", "default", "alice");
        AssertDecision(Assert.Single(await fixture.WaitForEntriesAsync("audit-sub-net", 1)), "subscribe", "test/nosubscribe", "deny", fixture.Line(3), null);
    }

    [Fact]
    public async Task An_allowed_publish_is_not_recorded_and_a_message_a_deny_keeps_from_a_subscriber_is()
    {
        // An anonymous subscription to test/# is allowed as a whole; a deny inside it (line 3) keeps test/nosubscribe from it.
        await using var reader = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "audit-receive-net");
        await reader.Client.SubscribeAsync("test/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await reader.PublishAsync("test/open", "allowed", 1);
        using (var admin = await AdminClient.LoginAsync(_host))
        {
            // The admin API's publishes are not checked; the delivery is.
            (await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "test/nosubscribe", payload = "kept back", qos = 1 })).EnsureSuccessStatusCode();
        }

        // Decided after the delivery above, so recorded after it.
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized,
            (await reader.Client.PublishStringAsync("test/nosubscribe", "refused", MqttQualityOfServiceLevel.AtLeastOnce)).ReasonCode);
        var entries = await fixture.WaitForEntriesAsync("audit-receive-net", 2);
        Assert.Equal(2, entries.Count); // neither the allowed SUBSCRIBE nor the allowed PUBLISH
        AssertDecision(entries[0], "receive", "test/nosubscribe", "deny", fixture.Line(3), null);
        AssertDecision(entries[1], "publish", "test/nosubscribe", "deny", fixture.Line(3), null);
        Assert.Equal("allowed", Assert.Single(await reader.WaitForMessagesAsync(1)).Payload);
    }

    internal static void AssertDecision(JsonElement entry, string action, string topic, string result, string rule, string? userName)
    {
        Assert.Equal(("access", action, topic, result, rule, userName),
            (entry.GetProperty("kind").GetString(), entry.GetProperty("action").GetString(), entry.GetProperty("topic").GetString(),
                entry.GetProperty("result").GetString(), entry.GetProperty("rule").GetString(), entry.GetProperty("userName").GetString()));
        Assert.Equal("default", entry.GetProperty("broker").GetString());
        Assert.StartsWith("tcp://127.0.0.1:", entry.GetProperty("listener").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("127.0.0.1:", entry.GetProperty("remoteAddress").GetString(), StringComparison.Ordinal);
    }
}

/// <summary>With <c>Security:AccessAudit:RecordAllowed=true</c> allowed PUBLISHes and SUBSCRIBEs are recorded with the rule that allowed them.</summary>
public sealed class AllowedAccessAuditTests(AllowsAuditedHost fixture) : IClassFixture<AllowsAuditedHost>
{
    [Fact]
    public async Task Allowed_decisions_are_recorded_with_their_rule_but_not_deliveries()
    {
        await using var alice = await MqttNetClient.ConnectAsync(fixture.Host, Protocol.V500, "audit-allow-net", userName: "alice", password: PasswordFileHost.AlicePassword);
        await alice.Client.SubscribeAsync("alice/in", MqttQualityOfServiceLevel.AtLeastOnce);
        await alice.PublishAsync("alice/in", "to myself", 1);
        Assert.Equal("to myself", Assert.Single(await alice.WaitForMessagesAsync(1)).Payload);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized,
            (await alice.Client.PublishStringAsync("news/today", "refused", MqttQualityOfServiceLevel.AtLeastOnce)).ReasonCode);

        var entries = await fixture.WaitForEntriesAsync("audit-allow-net", 3);
        Assert.Equal(3, entries.Count); // the delivery to alice is not an entry
        AccessAuditTests.AssertDecision(entries[0], "subscribe", "alice/in", "allow", fixture.Line(6), "alice");
        AccessAuditTests.AssertDecision(entries[1], "publish", "alice/in", "allow", fixture.Line(6), "alice");
        AccessAuditTests.AssertDecision(entries[2], "publish", "news/today", "deny", "default", "alice");
    }
}
