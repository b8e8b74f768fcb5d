using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>CONNECT and CONNACK (3.1.1 §3.1-3.2, 5.0 §3.1-3.2).</summary>
public sealed class ConnectTests : IAsyncLifetime
{
    private readonly MqttBroker _broker = TestBroker.Start(o => o.ConnectTimeout = TimeSpan.FromSeconds(1));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Theory]
    [InlineData(MqttProtocolVersion.V310)]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Every_version_connects_on_the_same_broker(MqttProtocolVersion version)
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "client-" + version, version);

        Assert.False(client.LastConnAck!.SessionPresent);
        Assert.True(_broker.FindSession("client-" + version)!.IsConnected);
    }

    // 3.1.1 [MQTT-3.1.3-8]: an empty client id with Clean Session 0 is refused with 0x02.
    [Fact]
    public async Task Empty_client_id_without_clean_session_is_rejected_in_311()
    {
        await using var client = PipeClient.Open(_broker);
        var connAck = await client.ConnectRawAsync(new ConnectPacket { ClientId = "", CleanStart = false });

        Assert.Equal(ConnectReturnCode.IdentifierRejected, ConnectReturnCodes.FromReasonCode(connAck.ReasonCode));
        await client.ExpectClosedAsync();
    }

    // 3.1.1 [MQTT-3.1.3-6] [MQTT-3.1.3-7]: an empty id with Clean Session 1 gets a unique id.
    [Fact]
    public async Task Empty_client_id_with_clean_session_is_accepted_in_311()
    {
        await using var client = PipeClient.Open(_broker);
        var connAck = await client.ConnectRawAsync(new ConnectPacket { ClientId = "", CleanStart = true });

        Assert.Equal(ReasonCode.Success, connAck.ReasonCode);
        Assert.Equal(1, _broker.SessionCount);
    }

    // 5.0 [MQTT-3.1.3-6] [MQTT-3.2.2-16]: an assigned client id is returned in CONNACK.
    [Fact]
    public async Task Empty_client_id_is_assigned_and_returned_in_5()
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        var connAck = await client.ConnectRawAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "", CleanStart = false });

        Assert.Equal(ReasonCode.Success, connAck.ReasonCode);
        var assigned = connAck.Properties!.AssignedClientIdentifier;
        Assert.False(string.IsNullOrEmpty(assigned));
        Assert.NotNull(_broker.FindSession(assigned));
    }

    [Fact]
    public async Task Mqtt31_refuses_empty_and_over_long_client_ids()
    {
        await using var empty = PipeClient.Open(_broker, MqttProtocolVersion.V310);
        var refusedEmpty = await empty.ConnectRawAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V310, ClientId = "" });
        Assert.Equal(ReasonCode.ClientIdentifierNotValid, refusedEmpty.ReasonCode);

        await using var tooLong = PipeClient.Open(_broker, MqttProtocolVersion.V310);
        var refusedLong = await tooLong.ConnectRawAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V310, ClientId = new string('a', 24) });
        Assert.Equal(ReasonCode.ClientIdentifierNotValid, refusedLong.ReasonCode);
    }

    // 3.1.1 [MQTT-3.1.2-2]: an unsupported protocol level gets CONNACK 0x01 and the connection is closed.
    [Fact]
    public async Task Unsupported_protocol_level_gets_return_code_1()
    {
        await using var client = PipeClient.Open(_broker);
        await client.SendRawAsync([0x10, 12, 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 9, 2, 0, 60, 0, 0]);

        var connAck = await client.ExpectAsync<ConnAckPacket>();
        Assert.Equal(ConnectReturnCode.UnacceptableProtocolVersion, ConnectReturnCodes.FromReasonCode(connAck.ReasonCode));
        await client.ExpectClosedAsync();
    }

    // 5.0 and 3.1.1 [MQTT-3.1.2-1]: a CONNECT whose protocol name is not MQTT's is closed without CONNACK (5.0 §3.1.2.1).
    [Theory]
    [InlineData("MQTs", 5)]
    [InlineData("MQTs", 4)]
    public async Task A_wrong_protocol_name_closes_the_connection(string name, byte level)
    {
        await using var client = PipeClient.Open(_broker);
        byte[] properties = level == 5 ? [0] : [];
        await client.SendRawAsync([0x10, (byte)(12 + properties.Length), 0, 4, .. System.Text.Encoding.ASCII.GetBytes(name), level, 2, 0, 60, .. properties, 0, 0]);

        Assert.Empty(await client.DrainUntilClosedAsync());
    }

    // [MQTT-3.1.0-1]: a first packet other than CONNECT closes the connection, without CONNACK.
    [Fact]
    public async Task First_packet_other_than_connect_closes_the_connection()
    {
        await using var client = PipeClient.Open(_broker);
        await client.SendRawAsync([0xC0, 0]);

        Assert.Empty(await client.DrainUntilClosedAsync());
    }

    [Fact]
    public async Task Connection_without_connect_is_closed_after_the_connect_timeout()
    {
        await using var client = PipeClient.Open(_broker);

        Assert.Empty(await client.DrainUntilClosedAsync());
    }

    // [MQTT-3.1.0-2]: a second CONNECT is a protocol violation; 5.0 says so with DISCONNECT 0x82.
    [Fact]
    public async Task Second_connect_is_a_protocol_error()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "twice", MqttProtocolVersion.V500);
        await client.SendAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "twice" });

        var disconnect = await client.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.ProtocolError, disconnect.ReasonCode);
        await client.ExpectClosedAsync();
    }

    // Found by the connection fuzzer: a second CONNECT whose protocol level is unknown failed to decode with CONNACK's
    // 0x84, which DISCONNECT may not carry (5.0 §3.14.2.1); it is a second CONNECT all the same [MQTT-3.1.0-2].
    [Fact]
    public async Task Second_connect_with_an_unknown_protocol_level_is_a_protocol_error_too()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "twice-unknown", MqttProtocolVersion.V500);
        await client.SendRawAsync([0x10, 0x0D, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x2A, 0x02, 0x00, 0x3C, 0x00, 0x01, (byte)'x']);

        var disconnect = await client.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.ProtocolError, disconnect.ReasonCode);
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task Connack_of_5_announces_the_broker_limits()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "limits", MqttProtocolVersion.V500);
        var properties = client.LastConnAck!.Properties!;

        Assert.Equal((uint)_broker.Options.MaximumPacketSize, properties.MaximumPacketSize);
        Assert.Equal((ushort)_broker.Options.MaximumIncomingInflightMessages, properties.ReceiveMaximum);
        Assert.True(properties.RetainAvailable);
        Assert.True(properties.SharedSubscriptionAvailable);
        Assert.True(properties.SubscriptionIdentifierAvailable);
        Assert.Equal((ushort)_broker.Options.TopicAliasMaximum, properties.TopicAliasMaximum);
    }

    // 5.0 §3.1.2.11.4 [MQTT-3.2.2-15] / §4.13: a packet over the maximum size gets DISCONNECT 0x95.
    [Fact]
    public async Task Packet_over_the_maximum_size_is_refused_with_0x95()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "big", MqttProtocolVersion.V500);
        await client.PublishAsync("t", new string('x', _broker.Options.MaximumPacketSize));

        var disconnect = await client.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.PacketTooLarge, disconnect.ReasonCode);
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task Malformed_packet_closes_a_311_connection_without_a_reply()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "bad");
        await client.SendRawAsync([0x36, 3, 0, 1, (byte)'t']);

        Assert.Empty(await client.DrainUntilClosedAsync());
        Assert.Null(_broker.FindSession("bad"));
    }

    // 3.1.1 [MQTT-3.1.4-2] / 5.0 [MQTT-3.1.4-3]: a second connection with the same id takes the session over.
    [Fact]
    public async Task A_second_connection_with_the_same_id_takes_over()
    {
        await using var first = await PipeClient.ConnectAsync(_broker, "same", MqttProtocolVersion.V500, cleanStart: false,
            properties: new MqttProperties { SessionExpiryInterval = 60 });
        await first.SubscribeAsync("kept/topic", QualityOfService.AtLeastOnce);

        await using var second = await PipeClient.ConnectAsync(_broker, "same", MqttProtocolVersion.V500, cleanStart: false,
            properties: new MqttProperties { SessionExpiryInterval = 60 });

        var disconnect = await first.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.SessionTakenOver, disconnect.ReasonCode);
        await first.ExpectClosedAsync();
        Assert.True(second.LastConnAck!.SessionPresent);

        await using var publisher = await PipeClient.ConnectAsync(_broker, "publisher");
        await publisher.PublishAndWaitAsync("kept/topic", "still subscribed");
        Assert.Equal("still subscribed", (await second.ExpectPublishAsync()).PayloadText);
    }

    // Two (here fifty) clients racing with one client id end with exactly one connected.
    [Fact]
    public async Task Fifty_connects_racing_with_one_client_id_leave_one_survivor()
    {
        var clients = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() =>
            PipeClient.ConnectAsync(_broker, "contested", MqttProtocolVersion.V500, cleanStart: false,
                properties: new MqttProperties { SessionExpiryInterval = 60 }))));
        try
        {
            // Every loser is closed by the broker; the survivor stays.
            await Poll.UntilAsync(() => clients.Count(c => !c.Closed.IsCompleted) == 1);
            var survivor = clients.Single(c => !c.Closed.IsCompleted);
            await survivor.SendAsync(PingReqPacket.Instance);
            await survivor.ExpectAsync<PingRespPacket>();
            Assert.True(_broker.FindSession("contested")!.IsConnected);
            Assert.Equal(1, _broker.SessionCount);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }
}
