using System.Text.Json;
using IoTHub.Testing;
using IoTHub.Web.Alarms;
using IoTHub.Web.Tests;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 18's HTTP webhook with FailurePolicy Deny, against a real HTTP server (Kestrel on loopback) and real clients
/// (MQTTnet, mosquitto_pub): allow, deny (0x86, 3.1.1: 4), ignore (the password file decides), 204, and failures (500, a
/// body that is not JSON, no answer within the timeout) refused with 0x88 Server unavailable (3.1.1: 3) and never
/// cached; the cache answering a repeated CONNECT; health, the alarm, the error metric and the log following an outage.
/// 3.1.1 [MQTT-3.2.2-5] and 5.0 [MQTT-3.2.2-7]: after a refusing CONNACK the connection is closed (the clients report it).
/// </summary>
public sealed class WebhookTests(WebhookDenyHost fixture) : IClassFixture<WebhookDenyHost>
{
    private const string Unavailable = "the authentication backend is unavailable";

    private readonly InteropHost _host = fixture.Host;
    private readonly WebhookServer _webhook = fixture.Webhook;

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task The_webhook_allows_and_denies_MQTTnet_and_mosquitto_clients(Protocol protocol)
    {
        var v5 = protocol == Protocol.V500;
        await using (var client = await MqttNetClient.ConnectAsync(_host, protocol, $"webhook-net-{protocol}", userName: $"allow-net-{protocol}", password: "pass 1"))
        {
            await client.SubscribeAsync("webhook/net", 1);
        }

        var sent = Assert.Single(_webhook.Requests($"allow-net-{protocol}"));
        Assert.Equal($"webhook-net-{protocol}", sent.GetProperty("clientId").GetString());
        Assert.Equal(("pass 1", "utf8"), (sent.GetProperty("password").GetString(), sent.GetProperty("passwordEncoding").GetString()));
        Assert.Equal("127.0.0.1", sent.GetProperty("peerAddress").GetString());
        Assert.StartsWith("tcp://", sent.GetProperty("listener").GetString(), StringComparison.Ordinal);
        Assert.Equal(v5 ? "5.0" : "3.1.1", sent.GetProperty("protocol").GetString());
        Assert.Equal(JsonValueKind.Null, sent.GetProperty("certificateCommonName").ValueKind);

        var denied = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, protocol, "webhook-net-denied", $"deny-net-{protocol}", "x"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, denied.ResultCode);

        // 204 No Content is an allow; deny is 0x86 (3.1.1: 4).
        await Mosquitto.PublishWithAsync(_host, protocol, "-i", $"webhook-pub-{protocol}", "-u", $"nocontent-{protocol}", "-P", "x", "-t", "webhook/pub", "-m", "204");
        Assert.Single(_webhook.Requests($"nocontent-{protocol}"));
        Assert.Contains(v5 ? "received CONNACK (134)" : "received CONNACK (4)",
            await Mosquitto.RefusedPublishWithAsync(_host, protocol, "-i", "webhook-pub-denied", "-u", $"deny-pub-{protocol}", "-P", "x", "-t", "t", "-m", "x"),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ignore_passes_the_client_to_the_next_authenticator()
    {
        await using (await MqttNetClient.ConnectAsync(_host, Protocol.V500, "webhook-alice", userName: "alice", password: WebhookHost.AlicePassword))
        {
        }

        var wrong = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "webhook-alice-wrong", "alice", "wrong"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ResultCode);
        Assert.Equal(2, _webhook.Requests("alice").Count); // asked both times: it ignored alice, the password file decided
    }

    /// <summary>An MQTT password is binary data (5.0 §3.1.3.5): bytes that are not UTF-8 go to the webhook as base64.</summary>
    [Fact]
    public async Task A_password_that_is_not_UTF8_is_sent_as_base64()
    {
        byte[] password = [0xFF, 0x00, 0xC3, 0x28];
        var options = MqttNetClient.Options(_host, Protocol.V500, "webhook-binary").WithCredentials("allow-binary", password);
        Assert.Equal(MqttClientConnectResultCode.Success, (await MqttNetClient.AnswerAsync(options)).ResultCode);

        var sent = Assert.Single(_webhook.Requests("allow-binary"));
        Assert.Equal((Convert.ToBase64String(password), "base64"), (sent.GetProperty("password").GetString(), sent.GetProperty("passwordEncoding").GetString()));
    }

    [Theory]
    [InlineData("error", Protocol.V500)]
    [InlineData("garbage", Protocol.V500)]
    [InlineData("error", Protocol.V311)]
    public async Task A_failing_backend_refuses_with_Server_unavailable_and_is_asked_again(string failure, Protocol protocol)
    {
        var userName = $"{failure}-{protocol}";
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var refused = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, protocol, $"webhook-{failure}", userName, "x"));
            Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, refused.ResultCode);
            if (protocol == Protocol.V500)
            {
                Assert.Equal(Unavailable, refused.ReasonString);
            }

            Assert.Equal(attempt, _webhook.Requests(userName).Count); // not cached
        }

        Assert.Contains("received CONNACK (3)",
            await Mosquitto.RefusedPublishWithAsync(_host, Protocol.V311, "-i", $"webhook-pub-{failure}", "-u", userName, "-P", "x", "-t", "t", "-m", "x"),
            StringComparison.Ordinal);
        await ConnectsAsync("allow-after-failure"); // the backend answers again
    }

    [Fact]
    public async Task A_slow_backend_times_out_while_other_clients_connect()
    {
        var slow = MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "webhook-slow", "slow-1", "x"));
        try
        {
            await _webhook.SlowArrived.WaitAsync(MqttNetClient.Timeout);

            // The slow request is held (until Release); another client is asked about and let in meanwhile, before the slow one's answer.
            await ConnectsAsync("allow-meanwhile");
            Assert.False(slow.IsCompleted, "the slow client was answered before the other one connected");

            // The authenticator's 2 s Timeout, not Mqtt:AuthenticationTimeout (5 s), ended it: its reason says so.
            var answer = await slow.WaitAsync(MqttNetClient.Timeout);
            Assert.Equal((MqttClientConnectResultCode.ServerUnavailable, Unavailable), (answer.ResultCode, answer.ReasonString));
        }
        finally
        {
            _webhook.Release();
        }

        await ConnectsAsync("allow-after-timeout");
    }

    [Fact]
    public async Task The_cache_answers_a_repeated_connect_without_asking()
    {
        await ConnectsAsync("allow-cached");
        await ConnectsAsync("allow-cached");
        Assert.Single(_webhook.Requests("allow-cached"));

        var denied = MqttNetClient.Options(_host, Protocol.V500, "webhook-cached", "deny-cached", "x");
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, (await MqttNetClient.RefusedAsync(denied)).ResultCode);
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, (await MqttNetClient.RefusedAsync(denied)).ResultCode);
        Assert.Single(_webhook.Requests("deny-cached")); // denials are cached too
    }

    [Fact]
    public async Task Health_the_alarm_the_error_metric_and_the_log_follow_an_outage()
    {
        await ConnectsAsync("allow-before-outage");
        Assert.Equal("Healthy", await Http.GetStringAsync("/health/ready"));
        var before = await MetricsScrape.ReadAsync(Http);
        Assert.Equal(0, before[ActiveAlarms]);

        _webhook.AnswerAll = WebhookAnswer.Error;
        try
        {
            var refused = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "webhook-outage", "allow-outage", "outage-password"));
            Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, refused.ResultCode);
        }
        finally
        {
            _webhook.AnswerAll = null;
        }

        // Still ready (200: the cache and the other authenticators serve), but degraded.
        Assert.Equal("Degraded", await Http.GetStringAsync("/health/ready"));
        _host.HistorySampler.Sample();
        var alarm = Assert.Single(Alarms.Active, static a => a.Name == AlarmNames.AuthenticationBackendFailing);
        Assert.Equal(WebhookHost.Name, alarm.Subject);
        Assert.Contains("answered 500", alarm.Detail, StringComparison.Ordinal);
        var during = await MetricsScrape.ReadAsync(Http);
        Assert.Equal(1, during[ActiveAlarms]);
        Assert.Equal(1, during[Errors("error")] - before[Errors("error")]);
        Assert.Equal(0, during[Errors("timeout")] - before[Errors("timeout")]);
        Assert.Contains(fixture.Logs.Lines, static l => l.EventId == 1160 && l.Message.Contains(WebhookHost.Name, StringComparison.Ordinal)
            && l.Message.Contains("answered 500", StringComparison.Ordinal) && l.Message.Contains("0x88", StringComparison.Ordinal));

        // The backend answers again: healthy, the alarm cleared into the history.
        await ConnectsAsync("allow-outage", "outage-password");
        Assert.Equal("Healthy", await Http.GetStringAsync("/health/ready"));
        _host.HistorySampler.Sample();
        Assert.DoesNotContain(Alarms.Active, static a => a.Name == AlarmNames.AuthenticationBackendFailing);
        Assert.Contains(Alarms.History, static a => a.Name == AlarmNames.AuthenticationBackendFailing && a.ClearedAt is not null);
        Assert.Equal(0, (await MetricsScrape.ReadAsync(Http))[ActiveAlarms]);
        Assert.Contains(fixture.Logs.Lines, static l => l.EventId == 1162 && l.Message.Contains(WebhookHost.Name, StringComparison.Ordinal));

        // Nothing the host logged holds a password or the URL's token.
        Assert.DoesNotContain(fixture.Logs.Lines, static l => l.Message.Contains("outage-password", StringComparison.Ordinal)
            || l.Message.Contains(WebhookServer.Token, StringComparison.Ordinal));
    }

    private const string ActiveAlarms = $"iothub_alarms_active{{name=\"{AlarmNames.AuthenticationBackendFailing}\"}}";

    private HttpClient Http => fixture.Http;

    private AlarmBoard Alarms => _host.Services.GetRequiredService<AlarmBoard>();

    private static string Errors(string reason) =>
        $"iothub_authentication_backend_errors_total{{authenticator=\"{WebhookHost.Name}\",method=\"webhook\",reason=\"{reason}\"}}";

    private async Task ConnectsAsync(string userName, string password = "x")
    {
        var answer = await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "webhook-" + userName, userName, password));
        Assert.Equal(MqttClientConnectResultCode.Success, answer.ResultCode);
    }
}

/// <summary>
/// The same webhook with FailurePolicy NotMine: a failure or a timeout passes the client to the password file, which lets
/// alice in with her password and refuses her with another (0x86); such decisions are not cached.
/// </summary>
public sealed class WebhookNotMineTests(WebhookNotMineHost fixture) : IClassFixture<WebhookNotMineHost>
{
    private readonly InteropHost _host = fixture.Host;
    private readonly WebhookServer _webhook = fixture.Webhook;

    [Theory]
    [InlineData(WebhookAnswer.Error)]
    [InlineData(WebhookAnswer.Garbage)]
    [InlineData(WebhookAnswer.Slow)]
    public async Task A_failing_backend_passes_the_client_to_the_next_authenticator(WebhookAnswer failure)
    {
        var asked = _webhook.Requests("alice").Count;
        _webhook.AnswerAll = failure;
        try
        {
            var alice = await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "webhook-alice", "alice", WebhookHost.AlicePassword));
            Assert.Equal(MqttClientConnectResultCode.Success, alice.ResultCode);
            var wrong = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V311, "webhook-alice", "alice", "wrong"));
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ResultCode);

            // Nobody else knows this user: the password file says not mine, so bad credentials (0x86), not 0x88.
            var stranger = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "webhook-stranger", $"allow-stranger-{failure}", "x"));
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, stranger.ResultCode);
        }
        finally
        {
            _webhook.AnswerAll = null;
            if (failure == WebhookAnswer.Slow)
            {
                _webhook.Release();
            }
        }

        Assert.Equal(asked + 2, _webhook.Requests("alice").Count);

        // Not cached: once the backend answers, it decides about the same client.
        var allowed = await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "webhook-stranger", $"allow-stranger-{failure}", "x"));
        Assert.Equal(MqttClientConnectResultCode.Success, allowed.ResultCode);
    }
}
