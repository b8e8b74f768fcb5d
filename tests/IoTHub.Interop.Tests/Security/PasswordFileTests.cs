using IoTHub.Testing;
using MQTTnet;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 15 with clients written by others: mosquitto_pub/mosquitto_sub (-u/-P), paho-mqtt and MQTTnet against a
/// password file from the real mosquitto_passwd. A right password connects; a wrong one gets 0x86 (3.1.1: 4); a client
/// without a user name gets 0x87 (3.1.1: 5) unless anonymous clients are allowed; a user added to the file connects
/// without a restart. 3.1.1 [MQTT-3.2.2-5] and 5.0 [MQTT-3.2.2-7], [MQTT-3.1.4-2]: after a refusing CONNACK the
/// connection is closed (the clients report the refusal and exit).
/// </summary>
public sealed class PasswordFileTests(PasswordFileHost fixture) : IClassFixture<PasswordFileHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task Mosquitto_clients_connect_with_the_right_password_only(Protocol protocol)
    {
        var topic = $"auth/mosquitto/{protocol}";
        using var subscriber = Mosquitto.SubscribeWith(_host, protocol, "-i", $"auth-sub-{protocol}", "-u", "alice", "-P", PasswordFileHost.AlicePassword,
            "-t", topic, "-C", "1", "-W", "30");
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);
        await Mosquitto.PublishWithAsync(_host, protocol, "-u", "bob", "-P", PasswordFileHost.BobPassword, "-t", topic, "-m", "from bob");
        await subscriber.WaitForSuccessAsync();
        Assert.Equal("from bob", Assert.Single(Mosquitto.Messages(subscriber)).Payload);

        var v5 = protocol == Protocol.V500;
        Assert.Contains(v5 ? "received CONNACK (134)" : "received CONNACK (4)", await RefusedPublishAsync(protocol, "-u", "alice", "-P", "wrong"), StringComparison.Ordinal);
        Assert.Contains(v5 ? "received CONNACK (134)" : "received CONNACK (4)", await RefusedPublishAsync(protocol, "-u", "mallory", "-P", "x"), StringComparison.Ordinal);
        Assert.Contains(v5 ? "received CONNACK (135)" : "received CONNACK (5)", await RefusedPublishAsync(protocol), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Protocol.V311, 4, 5)]
    [InlineData(Protocol.V500, 0x86, 0x87)]
    public async Task Paho_gets_each_answer(Protocol protocol, int badCredentials, int notAuthorized)
    {
        Assert.Equal(0, await Paho.ConnectOnceAsync(_host, protocol, "auth-paho", "alice", PasswordFileHost.AlicePassword));
        Assert.Equal(0, await Paho.ConnectOnceAsync(_host, protocol, "auth-paho", "bob", PasswordFileHost.BobPassword));
        Assert.Equal(badCredentials, await Paho.ConnectOnceAsync(_host, protocol, "auth-paho", "bob", PasswordFileHost.AlicePassword));
        Assert.Equal(badCredentials, await Paho.ConnectOnceAsync(_host, protocol, "auth-paho", "alice", null));
        Assert.Equal(notAuthorized, await Paho.ConnectOnceAsync(_host, protocol, "auth-paho", null, null));
    }

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task MqttNet_gets_each_answer(Protocol protocol)
    {
        await using (var alice = await MqttNetClient.ConnectAsync(_host, protocol, $"auth-net-{protocol}", userName: "alice", password: PasswordFileHost.AlicePassword))
        {
            await alice.SubscribeAsync("auth/net", 1);
            await alice.PublishAsync("auth/net", "to myself", 1);
            Assert.Equal("to myself", Assert.Single(await alice.WaitForMessagesAsync(1)).Payload);
        }

        var wrong = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, protocol, "auth-net-wrong", "alice", "wrong"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ResultCode);
        var anonymous = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, protocol, "auth-net-anonymous"));
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, anonymous.ResultCode);
    }

    [Fact]
    public async Task A_user_added_with_mosquitto_passwd_connects_without_a_restart()
    {
        var carol = MqttNetClient.Options(_host, Protocol.V500, "auth-carol", "carol", "carol-secret");
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, (await MqttNetClient.RefusedAsync(carol)).ResultCode);

        PasswordFileHost.RunPasswd("-b", fixture.PasswordFile, "carol", "carol-secret");

        // The file is read again shortly after it changed: poll with MQTTnet until carol is let in.
        await Poll.UntilAsync(async () => (await MqttNetClient.AnswerAsync(carol)).ResultCode == MqttClientConnectResultCode.Success,
            MqttNetClient.Timeout, "carol was not let in after the file changed");
        await Mosquitto.PublishWithAsync(_host, Protocol.V311, "-i", "auth-carol-mosquitto", "-u", "carol", "-P", "carol-secret", "-t", "auth/carol", "-m", "hi");
        Assert.Equal(0, await Paho.ConnectOnceAsync(_host, Protocol.V311, "auth-carol-paho", "carol", "carol-secret"));
        PasswordFileHost.RunPasswd("-D", fixture.PasswordFile, "carol");
    }

    /// <summary>Runs mosquitto_pub -d expecting a refusal; returns its output.</summary>
    private Task<string> RefusedPublishAsync(Protocol protocol, params string[] credentials) =>
        Mosquitto.RefusedPublishWithAsync(_host, protocol, ["-i", "auth-refused", "-t", "auth/refused", "-m", "x", .. credentials]);
}

/// <summary>With <c>Security:AllowAnonymous=true</c> next to the file: clients without a user name connect, wrong passwords still do not.</summary>
public sealed class PasswordFileWithAnonymousTests(PasswordFileAnonymousHost fixture) : IClassFixture<PasswordFileAnonymousHost>
{
    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task Anonymous_clients_connect_and_wrong_passwords_are_still_refused(Protocol protocol)
    {
        await Mosquitto.PublishWithAsync(fixture.Host, protocol, "-i", "anonymous-mosquitto", "-t", "auth/anonymous", "-m", "no user name");
        Assert.Equal(0, await Paho.ConnectOnceAsync(fixture.Host, protocol, "anonymous-paho", null, null));
        await using (await MqttNetClient.ConnectAsync(fixture.Host, protocol, "anonymous-net"))
        {
        }

        var wrong = await MqttNetClient.RefusedAsync(MqttNetClient.Options(fixture.Host, protocol, "anonymous-wrong", "alice", "wrong"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ResultCode);
        Assert.Equal(protocol == Protocol.V500 ? 0x86 : 4, await Paho.ConnectOnceAsync(fixture.Host, protocol, "anonymous-paho", "bob", "wrong"));
    }
}
