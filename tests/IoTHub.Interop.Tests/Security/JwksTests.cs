using IoTHub.Testing;
using MQTTnet;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 18's Jwt authenticator with the keys of a JWKS served by Kestrel on loopback: RSA and ECDSA tokens connect
/// (MQTTnet, mosquitto_pub); an HMAC token signed with nothing the JWKS holds is refused with 0x86; a key added to the
/// JWKS (rotation) is accepted once a token naming its kid makes the broker fetch it again; with the JWKS down, a token
/// whose key the broker must fetch is a backend failure, answered per FailurePolicy Deny: 0x88 Server unavailable.
/// </summary>
public sealed class JwksTests(JwksHost fixture) : IClassFixture<JwksHost>
{
    private readonly InteropHost _host = fixture.Host;
    private readonly JwksServer _jwks = fixture.Jwks;

    [Theory]
    [InlineData("rsa", Protocol.V500)]
    [InlineData("ec", Protocol.V311)]
    public async Task RSA_and_ECDSA_tokens_of_the_JWKS_connect(string kind, Protocol protocol)
    {
        var credentials = kind == "rsa" ? _jwks.Rsa1 : _jwks.Ec;
        await using (await MqttNetClient.ConnectAsync(_host, protocol, $"jwks-{kind}", userName: $"device-{kind}",
            password: Tokens.Make(credentials, $"device-{kind}", $"jwks-{kind}")))
        {
        }

        await Mosquitto.PublishWithAsync(_host, protocol, "-i", $"jwks-pub-{kind}", "-u", $"device-{kind}", "-P",
            Tokens.Make(credentials, $"device-{kind}", $"jwks-pub-{kind}"), "-t", "jwks/pub", "-m", "x");
    }

    [Fact]
    public async Task An_HMAC_token_is_refused_when_the_keys_come_from_a_JWKS()
    {
        var refused = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "jwks-hmac", "device",
            Tokens.Make(JwtSecretHost.Credentials, "device", "jwks-hmac")));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, refused.ResultCode);
    }

    [Fact]
    public async Task A_rotated_key_is_fetched_when_a_token_names_it_and_a_JWKS_that_is_down_is_a_backend_failure()
    {
        // Keys fetched, then the issuer adds rsa-2: a token signed with it is accepted after the refetch (at most one per 5 s).
        await using (await MqttNetClient.ConnectAsync(_host, Protocol.V500, "jwks-before", userName: "device", password: Tokens.Make(_jwks.Rsa1, "device", "jwks-before")))
        {
        }

        _jwks.Rotate();
        var rotated = Tokens.Make(_jwks.Rsa2, "device", "jwks-rotated");
        await Poll.UntilAsync(async () => (await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "jwks-rotated", "device", rotated))).ResultCode
            == MqttClientConnectResultCode.Success, TimeSpan.FromSeconds(20), "a token signed with the new key was not accepted");

        // Down: the keys at hand still check tokens; a key id the broker lacks needs a fetch, which fails: 0x88 (3.1.1: 3).
        _jwks.Down = true;
        try
        {
            await using (await MqttNetClient.ConnectAsync(_host, Protocol.V500, "jwks-cached-keys", userName: "device", password: Tokens.Make(_jwks.Ec, "device", "jwks-cached-keys")))
            {
            }

            using var unknown = System.Security.Cryptography.RSA.Create(2048);
            var stranger = Tokens.Make(new(new Microsoft.IdentityModel.Tokens.RsaSecurityKey(unknown) { KeyId = "rsa-unknown" },
                Microsoft.IdentityModel.Tokens.SecurityAlgorithms.RsaSha256), "device", "jwks-down");
            await Poll.UntilAsync(async () => (await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "jwks-down", "device", stranger))).ResultCode
                == MqttClientConnectResultCode.ServerUnavailable, TimeSpan.FromSeconds(20), "the failed fetch was not answered with 0x88");
            Assert.Contains("received CONNACK (3)", await Mosquitto.RefusedPublishWithAsync(_host, Protocol.V311, "-i", "jwks-down-311", "-u", "device", "-P",
                Tokens.Make(new(new Microsoft.IdentityModel.Tokens.RsaSecurityKey(unknown) { KeyId = "rsa-unknown-2" },
                    Microsoft.IdentityModel.Tokens.SecurityAlgorithms.RsaSha256), "device", "jwks-down-311"), "-t", "t", "-m", "x"), StringComparison.Ordinal);
        }
        finally
        {
            _jwks.Down = false;
        }
    }
}
