using IoTHub.Broker.Security;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 18's Jwt authenticator with an HMAC secret, against real clients (MQTTnet, mosquitto_pub with <c>-P token</c>):
/// a valid token connects; an expired or not yet valid one, another issuer or audience, a bad signature, <c>alg none</c>,
/// and a sub or client_id that is not the user name or client id are refused with 0x86 Bad user name or password
/// (3.1.1: 4); a password that is not a JWT goes to the password file after it. 3.1.1 [MQTT-3.2.2-5] and 5.0
/// [MQTT-3.2.2-7]: after a refusing CONNACK the connection is closed (the clients report it).
/// </summary>
public sealed class JwtTests(JwtSecretHost fixture) : IClassFixture<JwtSecretHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task A_valid_token_connects_MQTTnet_and_mosquitto_clients(Protocol protocol)
    {
        var token = Tokens.Make(JwtSecretHost.Credentials, $"device-{protocol}", $"jwt-net-{protocol}");
        await using (await MqttNetClient.ConnectAsync(_host, protocol, $"jwt-net-{protocol}", userName: $"device-{protocol}", password: token))
        {
        }

        var pubToken = Tokens.Make(JwtSecretHost.Credentials, $"device-{protocol}", $"jwt-pub-{protocol}");
        await Mosquitto.PublishWithAsync(_host, protocol, "-i", $"jwt-pub-{protocol}", "-u", $"device-{protocol}", "-P", pubToken, "-t", "jwt/pub", "-m", "x");
    }

    public static TheoryData<string, Protocol> BadTokens() => new()
    {
        { "expired", Protocol.V500 },
        { "expired", Protocol.V311 },
        { "not-yet-valid", Protocol.V500 },
        { "issuer", Protocol.V500 },
        { "audience", Protocol.V311 },
        { "signature", Protocol.V500 },
        { "none", Protocol.V500 },
        { "none", Protocol.V311 },
        { "user-name", Protocol.V500 },
        { "client-id", Protocol.V311 },
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task A_token_that_fails_a_check_is_refused_and_no_other_authenticator_is_asked(string flaw, Protocol protocol)
    {
        // alice is in the password file after the Jwt authenticator: a JWT it refuses must not reach it.
        const string User = "alice";
        var clientId = $"jwt-{flaw}-{protocol}";
        var credentials = JwtSecretHost.Credentials;
        var token = flaw switch
        {
            "expired" => Tokens.Make(credentials, User, clientId, expiresIn: TimeSpan.FromMinutes(-5)), // beyond the 30 s skew
            "not-yet-valid" => Tokens.Make(credentials, User, clientId, expiresIn: TimeSpan.FromHours(2), notBefore: DateTime.UtcNow.AddHours(1)),
            "issuer" => Tokens.Make(credentials, User, clientId, issuer: "https://another.test"),
            "audience" => Tokens.Make(credentials, User, clientId, audience: "another"),
            "signature" => Tokens.Make(new(new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey("another-secret-of-more-than-32-bytes-for-hs256"u8.ToArray()),
                Microsoft.IdentityModel.Tokens.SecurityAlgorithms.HmacSha256), User, clientId),
            "none" => Tokens.WithoutSignature(User, clientId),
            "user-name" => Tokens.Make(credentials, "someone-else", clientId),
            _ => Tokens.Make(credentials, User, "another-client"),
        };

        var refused = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, protocol, clientId, User, token));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, refused.ResultCode);
        Assert.Contains(protocol == Protocol.V500 ? "received CONNACK (134)" : "received CONNACK (4)",
            await Mosquitto.RefusedPublishWithAsync(_host, protocol, "-i", clientId, "-u", User, "-P", token, "-t", "t", "-m", "x"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_password_that_is_not_a_JWT_goes_to_the_next_authenticator()
    {
        await using (await MqttNetClient.ConnectAsync(_host, Protocol.V500, "jwt-alice", userName: "alice", password: JwtSecretHost.AlicePassword))
        {
        }

        await Mosquitto.PublishWithAsync(_host, Protocol.V311, "-i", "jwt-alice-pub", "-u", "alice", "-P", JwtSecretHost.AlicePassword, "-t", "jwt/alice", "-m", "x");
        var wrong = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "jwt-alice-wrong", "alice", "a.b.c"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ResultCode); // not a JWT either: the file refuses it
    }

    /// <summary>
    /// The chain's cache keeps every entry for Security:CacheDuration, which could outlive a token: Jwt decisions are not
    /// kept (allowed and refused tokens alike), while the password file's after it are.
    /// </summary>
    [Fact]
    public async Task Jwt_decisions_are_not_cached_and_the_next_authenticators_are()
    {
        var cache = _host.Services.GetRequiredService<AuthenticationChain>().Cache;
        var before = cache.Count;
        var token = Tokens.Make(JwtSecretHost.Credentials, "cached", "jwt-cached");
        await using (await MqttNetClient.ConnectAsync(_host, Protocol.V500, "jwt-cached", userName: "cached", password: token))
        {
        }

        var expired = Tokens.Make(JwtSecretHost.Credentials, "cached", "jwt-cached", expiresIn: TimeSpan.FromMinutes(-5));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword,
            (await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "jwt-cached", "cached", expired))).ResultCode);
        Assert.Equal(before, cache.Count);

        await using (await MqttNetClient.ConnectAsync(_host, Protocol.V500, "jwt-cached-alice", userName: "alice", password: JwtSecretHost.AlicePassword))
        {
        }

        Assert.Equal(before + 1, cache.Count);
    }
}
