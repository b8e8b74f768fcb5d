using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 15, MQTT 5.0 enhanced authentication with SCRAM, with MQTTnet 5 over TCP: users created through
/// /api/v1/mqtt-users log in with SCRAM-SHA-256 and SCRAM-SHA-512 (MQTTnet's enhanced authentication handler answers
/// AUTH 0x18 with the tests' own SCRAM client, and checks the server's signature in CONNACK); a wrong password and an
/// unknown user get the same 0x86; an unknown method 0x8C [MQTT-4.12.0-1]; and a live connection re-authenticates with
/// AUTH 0x19 [MQTT-4.12.1-1], ending in AUTH 0x00 with the server's signature.
/// </summary>
public sealed class ScramTests(DatabaseUsersHost fixture) : IClassFixture<DatabaseUsersHost>
{
    [Theory]
    [InlineData("SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-512")]
    public async Task A_user_made_through_the_api_logs_in_with_SCRAM_and_the_client_verifies_the_server(string method)
    {
        var user = "scram-" + method[^3..];
        await fixture.CreateAsync(user, "scram-password");
        var handler = new ScramHandler(ScramClient.ForMethod(method, user, "scram-password"));
        using var client = new MqttClientFactory().CreateMqttClient();

        var result = await client.ConnectAsync(Options(method, handler, user).Build());

        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        Assert.Equal(method, result.AuthenticationMethod);
        Assert.True(handler.Scram.VerifyServerFinal(result.AuthenticationData));
        await client.DisconnectAsync();
    }

    [Theory]
    [InlineData("SCRAM-SHA-256", "scram-wrong-256", "wrong-password")]
    [InlineData("SCRAM-SHA-512", "scram-wrong-512", "wrong-password")]
    [InlineData("SCRAM-SHA-256", "scram-nobody", "scram-password")]
    public async Task A_wrong_password_and_an_unknown_user_are_refused_alike(string method, string user, string password)
    {
        if (user != "scram-nobody")
        {
            await fixture.CreateAsync(user, "scram-password");
        }

        var options = Options(method, new ScramHandler(ScramClient.ForMethod(method, user, password)), user);
        var result = await MqttNetClient.RefusedAsync(options);
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
        Assert.Equal("bad user name or password", result.ReasonString);
    }

    [Fact]
    public async Task A_method_the_broker_does_not_offer_is_a_bad_authentication_method()
    {
        var options = Options("SCRAM-SHA-1", new ScramHandler(ScramClient.ForMethod("SCRAM-SHA-256", "someone", "x")), "scram-sha1");
        Assert.Equal(MqttClientConnectResultCode.BadAuthenticationMethod, (await MqttNetClient.RefusedAsync(options)).ResultCode);
    }

    [Theory]
    [InlineData("SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-512")]
    public async Task A_live_connection_re_authenticates(string method)
    {
        var user = "scram-again-" + method[^3..];
        await fixture.CreateAsync(user, "scram-password");
        var handler = new ScramHandler(ScramClient.ForMethod(method, user, "scram-password"));
        await using var client = await MqttNetClient.ConnectAsync(fixture.Host, Protocol.V500, user,
            transport: builder => Options(method, handler, user).WithTcpServer(fixture.Host.Host, fixture.Host.Port));
        await client.SubscribeAsync("scram/again", 1);

        var again = handler.Restart(ScramClient.ForMethod(method, user, "scram-password"));
        await client.Client.SendEnhancedAuthenticationExchangeDataAsync(new MqttEnhancedAuthenticationExchangeData
        {
            ReasonCode = MqttAuthenticateReasonCode.ReAuthenticate,
            AuthenticationData = handler.Scram.ClientFirst(),
        });

        Assert.True(handler.Scram.VerifyServerFinal(await again.WaitAsync(MqttNetClient.Timeout)));
        await client.PublishAsync("scram/again", "after re-authentication", 1);
        await client.WaitForMessagesAsync(1);
        Assert.True(client.Client.IsConnected);
    }

    private MqttClientOptionsBuilder Options(string method, ScramHandler handler, string clientId) =>
        MqttNetClient.Options(fixture.Host, Protocol.V500, clientId)
            .WithEnhancedAuthentication(method, handler.Scram.ClientFirst())
            .WithEnhancedAuthenticationHandler(handler);

    /// <summary>Answers the server-first-message with the client-final one; hands over the data of the AUTH 0x00 that ends a re-authentication.</summary>
    private sealed class ScramHandler(ScramClient scram) : IMqttEnhancedAuthenticationHandler
    {
        private TaskCompletionSource<byte[]> _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ScramClient Scram { get; private set; } = scram;

        public Task<byte[]> Restart(ScramClient next)
        {
            Scram = next;
            _finished = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            return _finished.Task;
        }

        public async Task HandleEnhancedAuthenticationAsync(MqttEnhancedAuthenticationEventArgs eventArgs)
        {
            if (eventArgs.ReasonCode == MqttAuthenticateReasonCode.ContinueAuthentication)
            {
                await eventArgs.SendAsync(new SendMqttEnhancedAuthenticationDataOptions { Data = Scram.ClientFinal(eventArgs.AuthenticationData) },
                    eventArgs.CancellationToken);
                return;
            }

            _finished.TrySetResult(eventArgs.AuthenticationData);
        }
    }
}
