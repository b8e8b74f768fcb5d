using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;
using MQTTnet;

namespace IoTHub.Interop.Tests.Security;

/// <summary>The password file host with bans on: 3 failed logins within a minute ban the address and the user name.</summary>
public sealed class BanHost() : PasswordFileHost(allowAnonymous: null, Settings())
{
    public const int MaxFailures = 3;

    private static Dictionary<string, string> Settings()
    {
        AdminClient.ChoosePassword();
        return new() { ["Security:Bans:Enabled"] = "true", ["Security:Bans:MaxFailures"] = MaxFailures.ToString(CultureInfo.InvariantCulture) };
    }
}

/// <summary>
/// Brute-force bans (issue 15) with real clients: after wrong passwords, the right one is refused as banned, 3.1.1
/// mosquitto_pub reading return code 5 Not authorized and 5.0 clients (MQTTnet, paho-mqtt) 0x8A Banned (5.0 §3.2.2.2;
/// [MQTT-3.2.2-7]: the connection is closed after the refusing CONNACK); lifted through the REST API, it connects.
/// Each test lifts what it banned: all come from 127.0.0.1.
/// </summary>
public sealed class BanTests(BanHost fixture) : IClassFixture<BanHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Fact]
    public async Task Mosquitto_v311_is_refused_with_5_once_banned_and_connects_after_the_ban_is_lifted()
    {
        for (var i = 0; i < BanHost.MaxFailures; i++)
        {
            Assert.Contains("received CONNACK (4)", await RefusedPublishAsync("alice", "wrong"), StringComparison.Ordinal);
        }

        Assert.Contains("received CONNACK (5)", await RefusedPublishAsync("alice", PasswordFileHost.AlicePassword), StringComparison.Ordinal);
        Assert.Contains("received CONNACK (5)", await RefusedPublishAsync("bob", PasswordFileHost.BobPassword), StringComparison.Ordinal); // the address

        using var admin = await AdminClient.LoginAsync(_host);
        var bans = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/bans")).GetProperty("items").EnumerateArray()
            .Select(static b => (b.GetProperty("kind").GetString(), b.GetProperty("value").GetString(), b.GetProperty("failures").GetInt32())).ToList();
        Assert.Equal([("address", "127.0.0.1", BanHost.MaxFailures), ("user", "alice", BanHost.MaxFailures)], bans);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/bans/address/127.0.0.1")).StatusCode);
        Assert.Contains("received CONNACK (5)", await RefusedPublishAsync("alice", PasswordFileHost.AlicePassword), StringComparison.Ordinal); // still the user
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/bans/user/alice")).StatusCode);
        await Mosquitto.PublishWithAsync(_host, Protocol.V311, "-i", "ban-mosquitto", "-u", "alice", "-P", PasswordFileHost.AlicePassword, "-t", "ban/t", "-m", "back");
    }

    [Fact]
    public async Task MqttNet_and_paho_v5_see_0x8A_banned_and_connect_after_the_ban_is_lifted()
    {
        for (var i = 0; i < BanHost.MaxFailures; i++)
        {
            var wrong = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "ban-net", "bob", "wrong"));
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ResultCode);
        }

        var right = MqttNetClient.Options(_host, Protocol.V500, "ban-net", "bob", PasswordFileHost.BobPassword);
        var banned = await MqttNetClient.RefusedAsync(right);
        Assert.Equal(MqttClientConnectResultCode.Banned, banned.ResultCode);
        Assert.Equal("banned after too many failed logins", banned.ReasonString);
        Assert.Equal(0x8A, await Paho.ConnectOnceAsync(_host, Protocol.V500, "ban-paho", "bob", PasswordFileHost.BobPassword));

        using var admin = await AdminClient.LoginAsync(_host);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/bans/user/bob")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/bans/address/127.0.0.1")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/api/v1/bans/user/bob")).StatusCode);

        Assert.Equal(MqttClientConnectResultCode.Success, (await MqttNetClient.AnswerAsync(right)).ResultCode);
        Assert.Equal(0, await Paho.ConnectOnceAsync(_host, Protocol.V500, "ban-paho", "bob", PasswordFileHost.BobPassword));
    }

    /// <summary>Runs mosquitto_pub -d as a 3.1.1 client expecting a refusal; returns its output.</summary>
    private async Task<string> RefusedPublishAsync(string userName, string password)
    {
        using var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["-d", "-h", _host.Host, "-p", _host.Port.ToString(CultureInfo.InvariantCulture),
            "-V", Mosquitto.Version(Protocol.V311), "-i", "ban-refused", "-t", "ban/refused", "-m", "x", "-u", userName, "-P", password]);
        Assert.NotEqual(0, await publisher.WaitForExitAsync());
        return string.Join('\n', publisher.Lines);
    }
}
