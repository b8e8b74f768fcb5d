using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Bans;
using IoTHub.Broker.Security.PasswordFile;
using IoTHub.Broker.Security.Scram;
using IoTHub.Broker.Security.Users;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests.Security.Scram;

/// <summary>
/// MQTT 5.0 enhanced authentication with SCRAM over the engine's connections (§4.12): CONNECT, AUTH 0x18 both ways,
/// CONNACK with the server-final-message; re-authentication with AUTH 0x19 ending in AUTH 0x00 or DISCONNECT; the turns
/// and methods the client must keep; timeouts on the broker's clock; and bans counting failed SCRAM logins.
/// </summary>
public sealed class ScramExchangeTests : IAsyncLifetime
{
    private const string Sha256 = "SCRAM-SHA-256";
    private const string Sha512 = "SCRAM-SHA-512";

    private readonly MemoryMqttUserStore _store = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly BanList _bans;
    private readonly AuthenticationChain _chain;
    private readonly MqttBroker _broker;

    public ScramExchangeTests()
    {
        _bans = new BanList(new BanOptions { MaxFailures = 3 }, _time, NullLogger<BanList>.Instance);
        _chain = new AuthenticationChain([new DatabaseAuthenticator(_store)], allowAnonymous: false, TimeSpan.FromMinutes(1), _time,
            [new ScramAuthenticator(_store, "a secret of the server"u8.ToArray())]);
        _broker = new MqttBroker(new BrokerOptions { MonitorInterval = TimeSpan.FromMilliseconds(50), ConnectTimeout = TimeSpan.FromSeconds(10) },
            time: _time) { Authenticator = new BanGuard(_bans, _chain) };
    }

    public async Task InitializeAsync()
    {
        _broker.Start();
        await AddUserAsync("alice", "alice-password");
        await AddUserAsync("bob", "bob-password", enabled: false);
        await AddUserAsync("kitchen", "kitchen-password", pattern: "%u-*");

        // Imported from a password file: a $7$ hash and no SCRAM-SHA-256 credential.
        var now = _time.GetUtcNow();
        await _store.AddAsync(new MqttUser("imported", PasswordHash.Create("imported-password", 101).Encoded, true, null, now, now), default);
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        _chain.Dispose();
    }

    [Theory]
    [InlineData(Sha256)]
    [InlineData(Sha512)]
    public async Task The_right_password_connects_and_the_server_proves_it_knows_the_credential(string method)
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        var (connAck, scram) = await ConnectAsync(client, method, "alice", "alice-password");

        Assert.Equal(ReasonCode.Success, connAck.ReasonCode);

        // [MQTT-4.12.0-5] the successful CONNACK names the method; its data is the server-final-message.
        Assert.Equal(method, connAck.Properties!.AuthenticationMethod);
        Assert.True(scram.VerifyServerFinal(connAck.Properties.AuthenticationData));
        Assert.Contains(("scram", "allow", 1L), _chain.Decisions());
        await client.SubscribeAsync("t");
        await client.PublishAsync("t", "in");
        Assert.Equal("in", (await client.ExpectPublishAsync()).PayloadText);
    }

    // Wrong password, unknown user, disabled user, an imported user without a SHA-256 credential: all look alike (0x86).
    [Theory]
    [InlineData(Sha256, "alice", "wrong-password")]
    [InlineData(Sha512, "alice", "wrong-password")]
    [InlineData(Sha256, "nobody", "alice-password")]
    [InlineData(Sha512, "nobody", "alice-password")]
    [InlineData(Sha256, "bob", "bob-password")]
    [InlineData(Sha256, "imported", "imported-password")]
    public async Task Bad_credentials_are_refused_at_the_proof(string method, string user, string password)
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        var (connAck, _) = await ConnectAsync(client, method, user, password);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, connAck.ReasonCode);
        Assert.Equal("bad user name or password", connAck.Properties!.ReasonString);
        await client.ExpectClosedAsync();
        Assert.Contains(("scram", "deny", 1L), _chain.Decisions());
    }

    [Fact]
    public async Task An_imported_user_with_a_7_hash_logs_in_with_SCRAM_SHA_512()
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        Assert.Equal(ReasonCode.Success, (await ConnectAsync(client, Sha512, "imported", "imported-password")).ConnAck.ReasonCode);
    }

    // An unknown user gets a salt as a real user would: the same at every try, so SCRAM does not say who exists.
    [Fact]
    public async Task An_unknown_user_gets_the_same_salt_every_time()
    {
        var salts = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
            await client.SendAsync(Connect(Sha256, ScramClient.ForMethod(Sha256, "nobody", "x").ClientFirst()));
            var serverFirst = System.Text.Encoding.UTF8.GetString((await client.ExpectAsync<AuthPacket>()).Properties!.AuthenticationData!);
            salts.Add(serverFirst.Split(',')[1]);
        }

        Assert.Equal(salts[0], salts[1]);
    }

    [Fact]
    public async Task A_client_id_outside_the_users_pattern_is_not_authorized()
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        Assert.Equal(ReasonCode.NotAuthorized, (await ConnectAsync(client, Sha256, "kitchen", "kitchen-password", "hall-1")).ConnAck.ReasonCode);
        await using var allowed = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        Assert.Equal(ReasonCode.Success, (await ConnectAsync(allowed, Sha256, "kitchen", "kitchen-password", "kitchen-1")).ConnAck.ReasonCode);
    }

    // [MQTT-4.12.0-1] a method no authenticator takes: 0x8C, and the connection closes.
    [Fact]
    public async Task An_unknown_method_is_a_bad_authentication_method()
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        var connAck = await client.ConnectRawAsync(Connect("SCRAM-SHA-1", ScramClient.ForMethod(Sha256, "alice", "x").ClientFirst()));
        Assert.Equal(ReasonCode.BadAuthenticationMethod, connAck.ReasonCode);
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task Channel_binding_is_refused_with_a_reason()
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        var connAck = await client.ConnectRawAsync(Connect(Sha256, "p=tls-server-end-point,,n=alice,r=abc"u8.ToArray()));
        Assert.Equal(ReasonCode.NotAuthorized, connAck.ReasonCode);
        Assert.Contains("channel binding", connAck.Properties!.ReasonString);
    }

    // 5.0 §4.12: before CONNACK the client answers AUTH 0x18 with AUTH 0x18 [MQTT-4.12.0-3] naming the method [MQTT-4.12.0-5].
    [Theory]
    [InlineData("subscribe")]
    [InlineData("other method")]
    [InlineData("re-authenticate")]
    public async Task A_packet_out_of_turn_during_the_exchange_is_a_protocol_error(string what)
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        await client.SendAsync(Connect(Sha256, ScramClient.ForMethod(Sha256, "alice", "x").ClientFirst()));
        await client.ExpectAsync<AuthPacket>();
        await client.SendAsync(what switch
        {
            "subscribe" => new SubscribePacket { PacketId = 1, Subscriptions = [new("t", new(QualityOfService.AtMostOnce))] },
            "other method" => Auth(ReasonCode.ContinueAuthentication, Sha512, [1]),
            _ => Auth(ReasonCode.ReAuthenticate, Sha256, [1]),
        });
        Assert.Equal(ReasonCode.ProtocolError, (await client.ExpectAsync<ConnAckPacket>()).ReasonCode);
        await client.ExpectClosedAsync();
    }

    // Mqtt:ConnectTimeout covers the whole exchange: a client that never sends its client-final-message is closed.
    [Fact]
    public async Task A_client_that_never_finishes_the_exchange_is_closed_after_the_connect_timeout()
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        await client.SendAsync(Connect(Sha256, ScramClient.ForMethod(Sha256, "alice", "alice-password").ClientFirst()));
        await client.ExpectAsync<AuthPacket>();
        Assert.False(client.Closed.IsCompleted);

        _time.Advance(TimeSpan.FromSeconds(11));
        await client.ExpectClosedAsync();
    }

    // [MQTT-4.12.1-1] AUTH 0x19 with the method of CONNECT starts it; AUTH 0x18 goes on; AUTH 0x00 ends it.
    [Theory]
    [InlineData(Sha256)]
    [InlineData(Sha512)]
    public async Task A_connected_client_re_authenticates(string method)
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        Assert.Equal(ReasonCode.Success, (await ConnectAsync(client, method, "alice", "alice-password")).ConnAck.ReasonCode);

        var (ended, scram) = await ReauthenticateAsync(client, method, "alice", "alice-password");
        var end = Assert.IsType<AuthPacket>(ended);
        Assert.Equal(ReasonCode.Success, end.ReasonCode);
        Assert.Equal(method, end.Properties!.AuthenticationMethod);
        Assert.True(scram.VerifyServerFinal(end.Properties.AuthenticationData));

        // Twice, and the connection goes on as before.
        Assert.Equal(ReasonCode.Success, Assert.IsType<AuthPacket>((await ReauthenticateAsync(client, method, "alice", "alice-password")).End).ReasonCode);
        await client.SubscribeAsync("t");
        await client.PublishAsync("t", "still here");
        Assert.Equal("still here", (await client.ExpectPublishAsync()).PayloadText);
    }

    // [MQTT-4.12.1-2] a failed re-authentication ends with DISCONNECT and the connection closes.
    [Theory]
    [InlineData("alice", "wrong-password")]
    [InlineData("kitchen", "kitchen-password")]
    public async Task A_failed_re_authentication_disconnects_the_client(string user, string password)
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        Assert.Equal(ReasonCode.Success, (await ConnectAsync(client, Sha256, "alice", "alice-password")).ConnAck.ReasonCode);

        var (end, _) = await ReauthenticateAsync(client, Sha256, user, password);
        var disconnect = Assert.IsType<DisconnectPacket>(end);
        Assert.Equal(ReasonCode.NotAuthorized, disconnect.ReasonCode);
        await client.ExpectClosedAsync();
    }

    // [MQTT-4.12.1-1] the method of CONNECT only; [MQTT-4.12.0-7] no AUTH from a client that connected without one.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AUTH_with_another_method_or_after_a_plain_CONNECT_is_a_protocol_error(bool scramConnect)
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        if (scramConnect)
        {
            Assert.Equal(ReasonCode.Success, (await ConnectAsync(client, Sha256, "alice", "alice-password")).ConnAck.ReasonCode);
        }
        else
        {
            await client.ConnectAcceptedAsync(new ConnectPacket
            {
                ProtocolVersion = MqttProtocolVersion.V500, ClientId = "plain", UserName = "alice", Password = "alice-password"u8.ToArray(),
            });
        }

        await client.SendAsync(Auth(ReasonCode.ReAuthenticate, Sha512, ScramClient.ForMethod(Sha512, "alice", "alice-password").ClientFirst()));
        Assert.Equal(ReasonCode.ProtocolError, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task A_re_authentication_left_unfinished_disconnects_after_the_authentication_timeout()
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        Assert.Equal(ReasonCode.Success, (await ConnectAsync(client, Sha256, "alice", "alice-password")).ConnAck.ReasonCode);
        await client.SendAsync(Auth(ReasonCode.ReAuthenticate, Sha256, ScramClient.ForMethod(Sha256, "alice", "alice-password").ClientFirst()));
        Assert.Equal(ReasonCode.ContinueAuthentication, (await client.ExpectAsync<AuthPacket>()).ReasonCode);

        _time.Advance(TimeSpan.FromSeconds(6));
        var disconnect = await client.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.NotAuthorized, disconnect.ReasonCode);
        Assert.Contains("Mqtt:AuthenticationTimeout", disconnect.Properties!.ReasonString);
    }

    // The BanGuard still stands before the chain: failed SCRAM logins count for the user, and a banned one gets 0x8A.
    [Fact]
    public async Task Failed_SCRAM_logins_lead_to_a_ban()
    {
        for (var i = 0; i < 3; i++)
        {
            await using var guess = PipeClient.Open(_broker, MqttProtocolVersion.V500);
            Assert.Equal(ReasonCode.BadUserNameOrPassword, (await ConnectAsync(guess, Sha256, "alice", "guess-" + i)).ConnAck.ReasonCode);
        }

        await using var owner = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        Assert.Equal(ReasonCode.Banned, (await ConnectAsync(owner, Sha256, "alice", "alice-password")).ConnAck.ReasonCode);
        Assert.Contains(_bans.Active(), static ban => ban is { Kind: BanKind.User, Value: "alice" });
    }

    private static ConnectPacket Connect(string method, byte[] data, string clientId = "c1") => new()
    {
        ProtocolVersion = MqttProtocolVersion.V500,
        ClientId = clientId,
        Properties = new MqttProperties { AuthenticationMethod = method, AuthenticationData = data },
    };

    private static AuthPacket Auth(ReasonCode reasonCode, string method, byte[] data) =>
        new() { ReasonCode = reasonCode, Properties = new MqttProperties { AuthenticationMethod = method, AuthenticationData = data } };

    /// <summary>CONNECT with the client-first-message, AUTH with the client-final one; CONNACK as it comes.</summary>
    private static async Task<(ConnAckPacket ConnAck, ScramClient Scram)> ConnectAsync(MqttTestClient client, string method, string user, string password,
        string clientId = "c1")
    {
        var scram = ScramClient.ForMethod(method, user, password);
        await client.SendAsync(Connect(method, scram.ClientFirst(), clientId));
        var received = (await client.ReceiveAsync()).Control;
        if (received is ConnAckPacket early)
        {
            return (early, scram);
        }

        var serverFirst = Assert.IsType<AuthPacket>(received);

        // [MQTT-4.12.0-2] AUTH 0x18 with the method of CONNECT [MQTT-4.12.0-5].
        Assert.Equal((ReasonCode.ContinueAuthentication, method), (serverFirst.ReasonCode, serverFirst.Properties!.AuthenticationMethod));
        await client.SendAsync(Auth(ReasonCode.ContinueAuthentication, method, scram.ClientFinal(serverFirst.Properties.AuthenticationData!)));
        return (await client.ExpectAsync<ConnAckPacket>(), scram);
    }

    /// <summary>AUTH 0x19 with the client-first-message, AUTH 0x18 with the client-final one; what ends it (AUTH or DISCONNECT).</summary>
    private static async Task<(ControlPacket End, ScramClient Scram)> ReauthenticateAsync(MqttTestClient client, string method, string user, string password)
    {
        var scram = ScramClient.ForMethod(method, user, password);
        await client.SendAsync(Auth(ReasonCode.ReAuthenticate, method, scram.ClientFirst()));
        var serverFirst = await client.ExpectAsync<AuthPacket>();
        Assert.Equal((ReasonCode.ContinueAuthentication, method), (serverFirst.ReasonCode, serverFirst.Properties!.AuthenticationMethod));
        await client.SendAsync(Auth(ReasonCode.ContinueAuthentication, method, scram.ClientFinal(serverFirst.Properties.AuthenticationData!)));
        return ((await client.ReceiveAsync()).Control!, scram);
    }

    private Task<bool> AddUserAsync(string name, string password, bool enabled = true, string? pattern = null)
    {
        var now = _time.GetUtcNow();
        return _store.AddAsync(new MqttUser(name, PasswordHash.Create(password, 101).Encoded, enabled, pattern, now, now,
            ScramCredential.Create(ScramMechanism.Sha256, password, 64).Encoded), default);
    }
}
