using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host with two authenticators: 0, the <see cref="WebhookServer"/> (Timeout 2 s and the failure policy of the
/// subclass), then 1, a password file from the real mosquitto_passwd with alice (<see cref="AlicePassword"/>), which
/// decides what the webhook ignores. Its log is kept in <see cref="Logs"/>; bans are off (the tests count refusals).
/// </summary>
public abstract class WebhookHost : IDisposable
{
    public const string AlicePassword = "alice-in-the-file";
    public const string Name = "Security:Authenticators:0";

    private readonly string _folder = Directory.CreateTempSubdirectory("iothub-interop-webhook-").FullName;

    /// <param name="settings">More settings of the host.</param>
    protected WebhookHost(string failurePolicy, IReadOnlyDictionary<string, string>? settings = null)
    {
        var passwords = Path.Combine(_folder, "passwords");
        PasswordFileHost.RunPasswd("-c", "-b", passwords, "alice", AlicePassword);
        Webhook = new WebhookServer();
        Host = new InteropHost(new Dictionary<string, string>(settings ?? new Dictionary<string, string>())
        {
            [$"{Name}:Type"] = "Webhook",
            [$"{Name}:Url"] = Webhook.Url.ToString(),
            [$"{Name}:Timeout"] = "00:00:02",
            [$"{Name}:FailurePolicy"] = failurePolicy,
            ["Security:Authenticators:1:Type"] = "PasswordFile",
            ["Security:Authenticators:1:Path"] = passwords,
            ["Security:Bans:Enabled"] = "false",
            ["Logging:LogLevel:IoTHub.Broker.Security.Backends"] = "Information",
        }, Logs);
        Http = new HttpClient { BaseAddress = new Uri($"http://{Host.HttpEndpoint}"), Timeout = MqttNetClient.Timeout };

        // The first request pays for JIT and a new connection: not within a test's 2 s timeout.
        var first = MqttNetClient.AnswerAsync(MqttNetClient.Options(Host, Protocol.V500, "webhook-warm-up", "allow-warm-up", "x")).GetAwaiter().GetResult();
        Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, first.ResultCode);
    }

    public InteropHost Host { get; }

    public WebhookServer Webhook { get; }

    /// <summary>The host's HTTP endpoint: /health/ready, /metrics.</summary>
    public HttpClient Http { get; }

    public LogCapture Logs { get; } = new();

    public void Dispose()
    {
        Http.Dispose();
        Host.Dispose();
        Webhook.Dispose();
        Directory.Delete(_folder, recursive: true);
        GC.SuppressFinalize(this);
    }
}

public sealed class WebhookDenyHost() : WebhookHost("Deny");

public sealed class WebhookNotMineHost() : WebhookHost("NotMine");

/// <summary>FailurePolicy Deny, and what no access rule grants is refused (Security:AclDefault deny).</summary>
public sealed class WebhookRightsHost() : WebhookHost("Deny", new Dictionary<string, string> { ["Security:AclDefault"] = "deny" });

/// <summary>Every line the host logged, with its event id, as the loggers formatted it.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<(int EventId, string Message)> _lines = new();

    public IReadOnlyList<(int EventId, string Message)> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(_lines);

    public void Dispose()
    {
    }

    private sealed class Logger(ConcurrentQueue<(int, string)> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue((eventId.Id, formatter(state, exception) + (exception is null ? string.Empty : "\n" + exception)));
    }
}
