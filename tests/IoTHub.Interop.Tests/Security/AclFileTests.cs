using IoTHub.Broker.Messages;
using IoTHub.Mqtt;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 17 with clients written by others against a Mosquitto acl_file (<see cref="AclFileHost.Rules"/>): mosquitto_sub
/// and mosquitto_pub with a <c>%u</c> pattern and anonymous lines, SUBACK 0x80 (3.1.1 [MQTT-3.9.3-2]) and 0x87 (5.0)
/// for the refused filter alone, PUBACK 0x87 for a refused 5.0 PUBLISH, the Paho suites' <c>test/nosubscribe</c>, a will
/// refused at the close of a killed client, and a subscription revoked when the file changes.
/// </summary>
public sealed class AclFileTests(AclFileHost fixture) : IClassFixture<AclFileHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Theory]
    [InlineData(Protocol.V311, "128")]
    [InlineData(Protocol.V500, "135")]
    public async Task Mosquitto_clients_get_what_the_file_grants_and_nothing_else(Protocol protocol, string refused)
    {
        // alice may read devices/alice/# (the %u pattern) but not bob's tree: SUBACK grants one filter and refuses the other.
        using var subscriber = Mosquitto.SubscribeWith(_host, protocol, "-i", $"acl-sub-{protocol}", "-u", "alice", "-P", PasswordFileHost.AlicePassword,
            "-q", "1", "-t", "devices/alice/#", "-t", "devices/bob/#", "-C", "1", "-W", "30");
        await subscriber.WaitForLineAsync("Subscribed (mid: ");
        Assert.Contains(subscriber.Lines, line => line.StartsWith("Subscribed (mid: ", StringComparison.Ordinal) && line.EndsWith($": 1, {refused}", StringComparison.Ordinal));

        // bob may not write into alice's tree: 3.1.1 gets its PUBACK all the same (mosquitto_pub exits 0) and the message is dropped.
        if (protocol == Protocol.V311)
        {
            await Mosquitto.PublishWithAsync(_host, protocol, "-u", "bob", "-P", PasswordFileHost.BobPassword, "-q", "1", "-t", "devices/alice/t", "-m", "from bob");
        }

        // An anonymous client may not either; alice may: hers is the one message the subscriber gets.
        await Mosquitto.PublishWithAsync(_host, protocol, "-q", "1", "-t", "devices/alice/t", "-m", "anonymous");
        await Mosquitto.PublishWithAsync(_host, protocol, "-u", "alice", "-P", PasswordFileHost.AlicePassword, "-q", "1", "-t", "devices/alice/t", "-m", "from alice");
        await subscriber.WaitForSuccessAsync();
        Assert.Equal("from alice", Assert.Single(Mosquitto.Messages(subscriber)).Payload);
    }

    [Fact]
    public async Task MqttNet_5_gets_0x87_for_a_refused_filter_and_a_refused_publish()
    {
        await using var alice = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "acl-net", userName: "alice", password: PasswordFileHost.AlicePassword);
        var subscribed = await alice.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("alice/in", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("#", MqttQualityOfServiceLevel.AtLeastOnce) // alice/# does not cover '#'
            .WithTopicFilter("news/+/today", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        Assert.Equal([MqttClientSubscribeResultCode.GrantedQoS1, MqttClientSubscribeResultCode.NotAuthorized, MqttClientSubscribeResultCode.GrantedQoS1],
            subscribed.Items.Select(static item => item.ResultCode));

        // news/# is read-only for alice: PUBACK 0x87 (5.0 §3.4.2.1), and the connection stays.
        var refused = await alice.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("news/a/today").WithPayload("x")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
        await alice.PublishAsync("alice/in", "still connected", 1);
        Assert.Equal("still connected", Assert.Single(await alice.WaitForMessagesAsync(1)).Payload);
    }

    [Theory]
    [InlineData(Protocol.V311, 0x80)]
    [InlineData(Protocol.V500, 0x87)]
    public async Task Paho_is_refused_test_nosubscribe_as_the_Paho_suites_expect(Protocol protocol, int refused)
    {
        using var subscriber = Paho.Subscribe(_host, protocol, $"acl-paho-{protocol}", 0, ["test/nosubscribe:2", "test/other:2"]);
        await Paho.WaitUntilSubscribedAsync(subscriber);
        Assert.Contains(subscriber.Lines, line => line.Contains($"\"granted\": [{refused}, 2]", StringComparison.Ordinal));
        await subscriber.WaitForSuccessAsync();
    }

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task The_will_of_a_killed_client_on_a_topic_it_may_not_publish_to_is_not_published(Protocol protocol)
    {
        // alice may read news/# but not write there: a will on news/ is refused when the connection ends.
        await using var reader = await MqttNetClient.ConnectAsync(_host, Protocol.V500, $"acl-will-reader-{protocol}", userName: "alice", password: PasswordFileHost.AlicePassword);
        await reader.SubscribeAsync("news/#", 1);
        await reader.SubscribeAsync($"alice/will-marker/{protocol}", 1);

        var clientId = $"acl-will-{protocol}";
        var willer = Mosquitto.SubscribeWith(_host, protocol, "-i", clientId, "-u", "alice", "-P", PasswordFileHost.AlicePassword,
            "-q", "1", "-t", "alice/unused", "--will-topic", $"news/will/{protocol}", "--will-payload", "refused will", "--will-qos", "1");
        try
        {
            await Mosquitto.WaitUntilSubscribedAsync(willer);
            Assert.True(_host.Broker.FindSession(clientId)?.IsConnected, "the client is not connected");
        }
        finally
        {
            willer.Dispose(); // SIGKILL: no DISCONNECT, so a permitted will would be published [MQTT-3.1.2-8]
        }

        await _host.WaitUntilOfflineAsync(clientId, MqttNetClient.Timeout);

        // After the will would have gone out, a marker on a topic the reader also holds: it is the one message that arrives.
        await Mosquitto.PublishWithAsync(_host, protocol, "-u", "alice", "-P", PasswordFileHost.AlicePassword, "-q", "1",
            "-t", $"alice/will-marker/{protocol}", "-m", "marker");
        var received = await reader.WaitForMessagesAsync(1);
        Assert.Equal([($"alice/will-marker/{protocol}", "marker")], received.Select(static m => (m.Topic, m.Payload)));
    }

    [Fact]
    public async Task A_subscription_the_changed_file_no_longer_allows_stops_receiving()
    {
        await using var alice = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "acl-revoked", userName: "alice", password: PasswordFileHost.AlicePassword);
        await alice.SubscribeAsync("news/#", 1);
        await alice.SubscribeAsync("alice/marker", 1);
        _host.Broker.Publish(Message("news/a", "before"));
        Assert.Equal("before", Assert.Single(await alice.WaitForMessagesAsync(1)).Payload);

        try
        {
            await WatchedFiles.ReplaceAsync(fixture.AclFile, AclFileHost.Rules.Replace("topic read news/#", "topic read weather/#", StringComparison.Ordinal));
            await Poll.UntilAsync(() => _host.Broker.GetSubscriptions("acl-revoked")!.All(static s => s.TopicFilter != "news/#"), TimeSpan.FromSeconds(5));

            // The administrator's publish is not checked, its delivery is: the revoked news never arrives before the marker.
            _host.Broker.Publish(Message("news/a", "after"));
            _host.Broker.Publish(Message("alice/marker", "marker"));
            var received = await alice.WaitForMessagesAsync(2);
            Assert.Equal(["before", "marker"], received.Select(static m => m.Payload));
        }
        finally
        {
            // The other tests need the file as it was, loaded.
            var version = _host.Broker.Authorizer!.Version;
            await WatchedFiles.ReplaceAsync(fixture.AclFile, AclFileHost.Rules);
            await Poll.UntilAsync(() => _host.Broker.Authorizer.Version > version);
        }
    }

    /// <summary>A message as the administrator publishes it (unchecked; its deliveries are checked).</summary>
    internal static MqttMessage Message(string topic, string payload) =>
        MqttMessage.Create(topic, System.Text.Encoding.UTF8.GetBytes(payload), QualityOfService.AtLeastOnce, retain: false, properties: null, publisherId: "admin", TimeProvider.System);
}
