using System.Globalization;
using System.Net;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Formatter;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 15, database users, with clients written by others: users created through /api/v1/mqtt-users connect with
/// mosquitto_pub, paho-mqtt and MQTTnet; a wrong password gets CONNACK 0x86 Bad User Name or Password (5.0 §3.2.2.2;
/// 3.1.1 §3.2.2.3 return code 4) and a client id outside the user's pattern 0x87 Not authorized (3.1.1: 5), after which
/// the connection is closed (3.1.1 [MQTT-3.2.2-5], 5.0 [MQTT-3.2.2-7]). A user deleted or disabled loses its
/// connections within a second: 5.0 clients read DISCONNECT 0x87 first (5.0 §3.14), 3.1.1 clients are closed. A new
/// password is the only one that works right after the change, whatever the cache held.
/// </summary>
public sealed class DatabaseUserTests(DatabaseUsersHost fixture) : IClassFixture<DatabaseUsersHost>
{
    private static readonly TimeSpan WithinASecond = TimeSpan.FromSeconds(1);

    private readonly InteropHost _host = fixture.Host;

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task Users_created_through_the_api_connect_and_wrong_passwords_and_client_ids_are_refused(Protocol protocol)
    {
        var user = $"db-pub-{protocol}";
        await fixture.CreateAsync(user, "right-password", clientIdPattern: "%u-*");

        await Mosquitto.PublishWithAsync(_host, protocol, "-i", user + "-1", "-u", user, "-P", "right-password", "-t", "db/pub", "-m", "hello");
        Assert.Equal(0, await Paho.ConnectOnceAsync(_host, protocol, user + "-paho", user, "right-password"));

        var v5 = protocol == Protocol.V500;
        Assert.Contains(v5 ? "received CONNACK (134)" : "received CONNACK (4)", await RefusedPublishAsync(protocol, user + "-2", user, "wrong-password"),
            StringComparison.Ordinal);
        Assert.Contains(v5 ? "received CONNACK (135)" : "received CONNACK (5)", await RefusedPublishAsync(protocol, "not-" + user, user, "right-password"),
            StringComparison.Ordinal);
        Assert.Equal(v5 ? 0x86 : 4, await Paho.ConnectOnceAsync(_host, protocol, user + "-paho", user, "wrong-password"));
        Assert.Equal(v5 ? 0x87 : 5, await Paho.ConnectOnceAsync(_host, protocol, "elsewhere", user, "right-password"));

        // Clients without a user name are refused: with an authenticator, anonymous clients are not allowed by default.
        Assert.Contains(v5 ? "received CONNACK (135)" : "received CONNACK (5)", await RefusedPublishAsync(protocol, user + "-3"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Protocol.V311, "delete")]
    [InlineData(Protocol.V500, "delete")]
    [InlineData(Protocol.V311, "disable")]
    [InlineData(Protocol.V500, "disable")]
    public async Task A_deleted_or_disabled_user_is_disconnected_within_a_second(Protocol protocol, string change)
    {
        var user = $"db-{change}-{protocol}";
        var (client, disconnected) = await ConnectedUserAsync(protocol, user, "user-password");
        await using var _ = client;

        var disable = change == "disable";
        await (disable
            ? fixture.SendAsync(HttpMethod.Put, "/" + user, new { enabled = false }, HttpStatusCode.OK)
            : fixture.SendAsync(HttpMethod.Delete, "/" + user, null, HttpStatusCode.NoContent));

        AssertNotAuthorized(protocol, await disconnected.WaitAsync(WithinASecond));
        var options = MqttNetClient.Options(_host, protocol, user, user, "user-password");
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, (await MqttNetClient.RefusedAsync(options)).ResultCode);
        if (disable)
        {
            await fixture.SendAsync(HttpMethod.Put, "/" + user, new { enabled = true }, HttpStatusCode.OK);
            Assert.Equal(MqttClientConnectResultCode.Success, (await MqttNetClient.AnswerAsync(options)).ResultCode);
        }
    }

    [Fact]
    public async Task After_a_password_change_the_old_password_is_refused_at_once_though_it_was_cached()
    {
        await fixture.CreateAsync("db-changer", "old-password");
        var old = MqttNetClient.Options(_host, Protocol.V500, "db-changer", "db-changer", "old-password");
        Assert.Equal(MqttClientConnectResultCode.Success, (await MqttNetClient.AnswerAsync(old)).ResultCode); // cached from here on

        await fixture.SendAsync(HttpMethod.Put, "/db-changer", new { password = "new-password" }, HttpStatusCode.OK);

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, (await MqttNetClient.RefusedAsync(old)).ResultCode);
        var changed = MqttNetClient.Options(_host, Protocol.V500, "db-changer", "db-changer", "new-password");
        Assert.Equal(MqttClientConnectResultCode.Success, (await MqttNetClient.AnswerAsync(changed)).ResultCode);
        await Mosquitto.PublishWithAsync(_host, Protocol.V311, "-i", "db-changer", "-u", "db-changer", "-P", "new-password", "-t", "db/changed", "-m", "x");
    }

    /// <summary>
    /// Creates the user through the API and connects an MQTTnet client as it (client id = user name); with a task that
    /// completes with the reason of the client's disconnection as MQTTnet reports it.
    /// </summary>
    private async Task<(MqttNetClient Client, Task<MqttClientDisconnectReason> Disconnected)> ConnectedUserAsync(Protocol protocol, string user, string password)
    {
        await fixture.CreateAsync(user, password);
        var client = await MqttNetClient.ConnectAsync(_host, protocol, user, userName: user, password: password);
        var signal = new TaskCompletionSource<MqttClientDisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Client.DisconnectedAsync += e =>
        {
            signal.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };
        return (client, signal.Task);
    }

    /// <summary>5.0: the server's DISCONNECT said 0x87; 3.1.1 has no server DISCONNECT, the connection just ends.</summary>
    private static void AssertNotAuthorized(Protocol protocol, MqttClientDisconnectReason reason)
    {
        if (protocol == Protocol.V500)
        {
            Assert.Equal(MqttClientDisconnectReason.NotAuthorized, reason);
        }
    }

    /// <summary>Runs mosquitto_pub -d expecting a refusal; returns its output.</summary>
    private async Task<string> RefusedPublishAsync(Protocol protocol, string clientId, params string[] credentials)
    {
        string[] login = credentials.Length == 2 ? ["-u", credentials[0], "-P", credentials[1]] : [];
        using var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["-d", "-h", _host.Host, "-p", _host.Port.ToString(CultureInfo.InvariantCulture),
            "-V", Mosquitto.Version(protocol), "-i", clientId, "-t", "db/refused", "-m", "x", .. login]);
        Assert.NotEqual(0, await publisher.WaitForExitAsync());
        return string.Join('\n', publisher.Lines);
    }
}
