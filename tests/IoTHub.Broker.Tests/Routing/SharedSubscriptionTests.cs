using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>Shared subscriptions (5.0 §4.8.2): $share/{group}/{filter} and $queue/{filter}.</summary>
public sealed class SharedSubscriptionTests : IAsyncLifetime
{
    private const int Messages = 3_000;

    private MqttBroker _broker = TestBroker.Start();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    private async Task UseBrokerAsync(SharedSubscriptionStrategy strategy)
    {
        await _broker.DisposeAsync();
        _broker = TestBroker.Start(o =>
        {
            o.SharedSubscriptionStrategy = strategy;
            o.MaximumQueuedMessages = 10_000;
        });
    }

    private async Task<MqttTestClient[]> MembersAsync(string filter, int count = 3)
    {
        var members = new MqttTestClient[count];
        for (var i = 0; i < count; i++)
        {
            members[i] = await PipeClient.ConnectAsync(_broker, "member-" + i, MqttProtocolVersion.V500);
            Assert.Equal([ReasonCode.Success], (await members[i].SubscribeAsync(filter)).ReasonCodes);
        }

        return members;
    }

    /// <summary>Publishes QoS 0 messages from <paramref name="publishers"/> publishers and counts what each member got.</summary>
    private async Task<int[]> DistributeAsync(MqttTestClient[] members, string topic, int publishers = 1)
    {
        var clients = new List<MqttTestClient>();
        for (var p = 0; p < publishers; p++)
        {
            clients.Add(await PipeClient.ConnectAsync(_broker, "publisher-" + p));
        }

        for (var i = 0; i < Messages; i++)
        {
            await clients[i % publishers].PublishAsync(topic, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        foreach (var client in clients)
        {
            await client.PublishAndWaitAsync("fence", "all routed");
            await client.DisposeAsync();
        }

        var counts = new int[members.Length];
        var total = 0;
        while (total < Messages)
        {
            for (var m = 0; m < members.Length; m++)
            {
                while (members[m].TryReceive(out var packet))
                {
                    Assert.Equal(PacketType.Publish, packet!.Type);
                    counts[m]++;
                    total++;
                }
            }

            Assert.True(total <= Messages, "a message was delivered to more than one member");
            if (total < Messages)
            {
                await Poll.UntilAsync(() => members.Any(m => m.TryPeek()));
            }
        }

        return counts;
    }

    [Fact]
    public async Task Round_robin_spreads_evenly_and_each_message_goes_to_one_member()
    {
        await UseBrokerAsync(SharedSubscriptionStrategy.RoundRobin);
        var members = await MembersAsync("$share/workers/jobs/#");

        var counts = await DistributeAsync(members, "jobs/build");

        Assert.All(counts, c => Assert.Equal(Messages / 3, c));
        await DisposeAllAsync(members);
    }

    [Fact]
    public async Task Random_spreads_roughly_evenly()
    {
        await UseBrokerAsync(SharedSubscriptionStrategy.Random);
        var members = await MembersAsync("$share/workers/jobs/#");

        var counts = await DistributeAsync(members, "jobs/build");

        Assert.All(counts, c => Assert.InRange(c, Messages / 3 * 7 / 10, Messages / 3 * 13 / 10));
        await DisposeAllAsync(members);
    }

    [Fact]
    public async Task Sticky_keeps_one_member()
    {
        await UseBrokerAsync(SharedSubscriptionStrategy.Sticky);
        var members = await MembersAsync("$share/workers/jobs/#");

        var counts = await DistributeAsync(members, "jobs/build");

        Assert.Single(counts, c => c == Messages);
        await DisposeAllAsync(members);
    }

    [Fact]
    public async Task Hash_of_client_id_keeps_each_publisher_on_one_member()
    {
        await UseBrokerAsync(SharedSubscriptionStrategy.HashClientId);
        var members = await MembersAsync("$share/workers/jobs/#");

        var counts = await DistributeAsync(members, "jobs/build", publishers: 1);

        Assert.Single(counts, c => c == Messages);
        await DisposeAllAsync(members);
    }

    // EMQX's $queue/{filter}: one implicit group.
    [Fact]
    public async Task Queue_prefix_is_a_shared_subscription()
    {
        var members = await MembersAsync("$queue/tasks");

        var counts = await DistributeAsync(members, "tasks");

        Assert.All(counts, c => Assert.Equal(Messages / 3, c));
        await DisposeAllAsync(members);
    }

    // Different groups each get a copy; a non-shared subscription of a member gets its own copy too.
    [Fact]
    public async Task Each_group_gets_one_copy_and_plain_subscriptions_their_own()
    {
        var a = await MembersAsync("$share/a/t", 2);
        await using var b = await PipeClient.ConnectAsync(_broker, "b", MqttProtocolVersion.V500);
        await b.SubscribeAsync("$share/b/t");
        await b.SubscribeAsync("t");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        await publisher.PublishAndWaitAsync("t", "one");

        Assert.Equal("one", (await b.ExpectPublishAsync()).PayloadText);
        Assert.Equal("one", (await b.ExpectPublishAsync()).PayloadText);
        await Poll.UntilAsync(() => a.Count(m => m.TryPeek()) == 1);
        await DisposeAllAsync(a);
    }

    // No retained messages on a shared subscribe.
    [Fact]
    public async Task Shared_subscribe_gets_no_retained_messages()
    {
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAndWaitAsync("kept", "retained", retain: true);

        await using var member = await PipeClient.ConnectAsync(_broker, "member", MqttProtocolVersion.V500);
        await member.SubscribeAsync("$share/g/kept");
        await member.SubscribeAsync("marker");
        await publisher.PublishAndWaitAsync("marker", "end");

        Assert.Equal("marker", (await member.ExpectPublishAsync()).Topic);
    }

    // §4.8.2: a member's unacknowledged QoS 1 messages go to another member when it leaves.
    [Fact]
    public async Task A_leaving_members_unacknowledged_messages_go_to_another_member()
    {
        var members = await MembersAsync("$share/g/work", 2);
        foreach (var member in members)
        {
            await member.UnsubscribeAsync("$share/g/work");
            await member.SubscribeAsync("$share/g/work", QualityOfService.AtLeastOnce);
        }

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        for (var i = 0; i < 100; i++)
        {
            await publisher.PublishAndWaitAsync("work", "job-" + i);
        }

        // Member 0 takes its share and leaves without acknowledging any; member 1 acknowledges everything.
        await Poll.UntilAsync(() => members[0].TryPeek());
        await members[0].DropAsync();
        var done = new HashSet<string>();
        while (done.Count < 100)
        {
            var message = await members[1].ExpectPublishAsync();
            done.Add(message.PayloadText);
            await members[1].SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        }

        Assert.Equal(100, done.Count);
        await DisposeAllAsync(members);
    }

    private static async Task DisposeAllAsync(IEnumerable<MqttTestClient> clients)
    {
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    // Issue 14, defect 6: the round-robin state of a shared subscription goes when its last member leaves (by
    // UNSUBSCRIBE or with its session), so that groups coming and going do not grow the broker.
    [Fact]
    public async Task The_state_of_a_shared_subscription_goes_with_its_last_member()
    {
        await using var publisher = await PipeClient.ConnectAsync(_broker, "publisher");
        var members = new List<MqttTestClient>();
        for (var group = 0; group < 20; group++)
        {
            for (var i = 0; i < 2; i++)
            {
                var member = await PipeClient.ConnectAsync(_broker, $"g{group}-m{i}", MqttProtocolVersion.V500);
                await member.SubscribeAsync($"$share/g{group}/jobs/{group}");
                members.Add(member);
            }

            await publisher.PublishAndWaitAsync($"jobs/{group}", "work");
        }

        Assert.Equal(20, _broker.Router.SharedSubscriptionStates);

        // A group keeps its state while one member is left. One of the two got the work before: it may come first.
        static async Task UnsubscribeAsync(MqttTestClient member)
        {
            await member.SendAsync(new UnsubscribePacket { PacketId = member.NextPacketId(), TopicFilters = ["$share/g0/jobs/0"] });
            while ((await member.ReceiveAsync()).Type != PacketType.UnsubAck)
            {
            }
        }

        await UnsubscribeAsync(members[0]);
        Assert.Equal(20, _broker.Router.SharedSubscriptionStates);
        await UnsubscribeAsync(members[1]);
        Assert.Equal(19, _broker.Router.SharedSubscriptionStates);

        // The other groups lose their members with their sessions (expiry 0: they end with the connection).
        foreach (var member in members)
        {
            await member.DisconnectAsync();
        }

        await Poll.UntilAsync(() => _broker.Subscriptions.Count == 0);
        Assert.Equal(0, _broker.Router.SharedSubscriptionStates);
        foreach (var member in members)
        {
            await member.DisposeAsync();
        }
    }
}
