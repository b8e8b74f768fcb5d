using MQTTnet;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 18: a client that connected with a JWT as its password is disconnected when the token's <c>exp</c> passes,
/// with real MQTTnet clients: 5.0 gets DISCONNECT 0xA0 Maximum connect time (5.0 §3.14.2.1: "the maximum connection
/// time authorized for this connection has been exceeded"), 3.1.1 has its connection closed; the broker logs why. A
/// client that logged in without a token has no expiry.
/// </summary>
public sealed class JwtExpiryTests(JwtRightsHost fixture) : IClassFixture<JwtRightsHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Theory]
    [InlineData(Protocol.V500)]
    [InlineData(Protocol.V311)]
    public async Task A_client_is_disconnected_when_its_token_expires(Protocol protocol)
    {
        var clientId = $"jwt-expiring-{protocol}";
        var token = Tokens.Make(JwtSecretHost.Credentials, $"expiring-{protocol}", clientId, expiresIn: TimeSpan.FromSeconds(3));
        var expiry = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token).ValidTo; // exp, in whole seconds
        await using var client = await MqttNetClient.ConnectAsync(_host, protocol, clientId, userName: $"expiring-{protocol}", password: token);
        Assert.Equal(expiry, _host.Broker.FindSession(clientId)!.Connection!.CredentialsExpireAt!.Value.UtcDateTime);
        var disconnected = new TaskCompletionSource<MqttClientDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Client.DisconnectedAsync += e =>
        {
            disconnected.TrySetResult(e);
            return Task.CompletedTask;
        };

        var closed = await disconnected.Task.WaitAsync(MqttNetClient.Timeout);
        Assert.True(DateTime.UtcNow >= expiry, "disconnected before the token expired");
        Assert.True(closed.ClientWasConnected);
        if (protocol == Protocol.V500)
        {
            Assert.Equal((MqttClientDisconnectReason.MaximumConnectTime, "credentials expired"), (closed.Reason, closed.ReasonString));
        }

        await _host.WaitUntilOfflineAsync(clientId, MqttNetClient.Timeout);
        Assert.Contains(fixture.Logs.Lines, line => line.EventId == 1022 && line.Message.Contains(clientId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_without_a_token_has_no_expiry()
    {
        await using var client = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "jwt-file-alice", userName: "alice", password: JwtRightsHost.AlicePassword);
        Assert.Null(_host.Broker.FindSession("jwt-file-alice")!.Connection!.CredentialsExpireAt);
    }
}
