using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>The built host as an operator runs it: a child process with command-line switches.</summary>
public sealed partial class HostProcessTests : IDisposable
{
    private readonly TempDirectory _workingDirectory = new();

    [Fact]
    public async Task BadValuesStopTheHostWithOneMessageNamingEveryBadKey()
    {
        string dataDirectory = Path.Combine(_workingDirectory.Path, "data");
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "70000", "--Mqtt:Address=not-an-ip", "--Logging:Format=xml",
            "--Telemetry:Otlp:Endpoint=localhost:4318", "--Telemetry:Otlp:Protocol=thrift", "--data-dir", dataDirectory);

        int exitCode = await host.WaitForExitAsync();

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Http:Port '70000'", host.Output, StringComparison.Ordinal);
        Assert.Contains("Mqtt:Address 'not-an-ip'", host.Output, StringComparison.Ordinal);
        Assert.Contains("Logging:Format 'xml'", host.Output, StringComparison.Ordinal);
        Assert.Contains("Telemetry:Otlp:Endpoint 'localhost:4318'", host.Output, StringComparison.Ordinal);
        Assert.Contains("Telemetry:Otlp:Protocol 'thrift'", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal); // no stack trace
        Assert.False(Directory.Exists(dataDirectory), "nothing is created when the settings are bad");
    }

    [Fact]
    public async Task GoodValuesListenCreateTheDataDirectoryAndStopCleanlyOnSigterm()
    {
        string dataDirectory = Path.Combine(_workingDirectory.Path, "nested", "data");
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", dataDirectory);

        string line = await host.WaitForLineAsync("HTTP listening on ");
        Uri address = new(ListeningAddress().Match(line).Groups[1].Value);
        Assert.NotEqual(0, address.Port);
        Assert.True(Directory.Exists(dataDirectory), $"{dataDirectory} was not created. Output:\n{host.Output}");
        using (var client = new HttpClient { BaseAddress = address, Timeout = HostProcess.Timeout })
        {
            Assert.Equal("Healthy", await client.GetStringAsync(new Uri("/health/live", UriKind.Relative)));
        }

        // It prints where to connect, and nothing untrue: the MQTT port by its MQTT URL, never as an http:// address.
        var mqtt = await host.WaitForMqttEndpointAsync();
        Assert.NotEqual(0, mqtt.Port);
        Assert.Contains($"MQTT listening on tcp://{mqtt} (broker 'default')", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain($"http://{mqtt}", host.Output, StringComparison.Ordinal);
        var mqttClient = await MqttTestClient.ConnectTcpAsync(mqtt, "started-host-client");
        await mqttClient.DisposeAsync();

        host.Terminate();

        Assert.Equal(0, await host.WaitForExitAsync());
    }

    /// <summary>
    /// The real host's transport reads into 64 KB blocks (TransportMemoryPool): a packet larger than a
    /// block, one of exactly a block's size and a small one arrive whole and in order through it
    /// (3.1.1 [MQTT-4.6.0-6]), between two clients written by others.
    /// </summary>
    [Fact]
    public async Task PacketsLargerThanATransportBlockArriveWholeAndInOrder()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", Path.Combine(_workingDirectory.Path, "data"));
        string port = (await host.WaitForMqttEndpointAsync()).Port.ToString(CultureInfo.InvariantCulture);
        var random = new Random(5);
        string[] payloads = [Letters(random, 300_000), Letters(random, 65_536), "small"];

        using var subscriber = ChildProcess.Start("stdbuf", ["-oL", "mosquitto_sub", "-d", "-h", "127.0.0.1", "-p", port, "-i", "large-sub", "-q", "1", "-t", "large", "-C", "3", "-W", "30"]);
        await subscriber.WaitForLineAsync("Subscribed (mid: "); // stdbuf -oL: mosquitto_sub's lines as they come
        for (var i = 0; i < payloads.Length; i++)
        {
            string file = Path.Combine(_workingDirectory.Path, $"payload-{i}");
            await File.WriteAllTextAsync(file, payloads[i]);
            using var publisher = ChildProcess.Start("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-i", "large-pub", "-q", "1", "-t", "large", "-f", file]);
            await publisher.WaitForSuccessAsync();
        }

        await subscriber.WaitForSuccessAsync();
        // With -d, mosquitto_sub's own lines start "Client " or "Subscribed"; the payloads are letters only.
        Assert.Equal(payloads, subscriber.Lines.Where(static line => line.Length > 0 && line.All(char.IsAsciiLetterLower)));
    }

    public void Dispose() => _workingDirectory.Dispose();

    /// <summary>
    /// <c>--health-check</c>, the container image's HEALTHCHECK: exit code 0 while the host's /health/ready answers 200,
    /// found from the same switches (--http-port) or given as a URL; 1 once the host is gone.
    /// </summary>
    [Fact]
    public async Task HealthCheckSwitchExitsZeroWhileTheHostIsReadyAndOneWhenItIsGone()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", Path.Combine(_workingDirectory.Path, "data"));
        Uri address = new(ListeningAddress().Match(await host.WaitForLineAsync("HTTP listening on ")).Groups[1].Value);
        string port = address.Port.ToString(CultureInfo.InvariantCulture);

        using (var bySwitch = HostProcess.Start(_workingDirectory.Path, "--health-check", "--http-port", port))
        {
            Assert.True(await bySwitch.WaitForExitAsync() == 0, bySwitch.Output);
            Assert.Contains($"http://127.0.0.1:{port}/health/ready answered 200", bySwitch.Output, StringComparison.Ordinal);
        }
        using (var byUrl = HostProcess.Start(_workingDirectory.Path, "--health-check", new Uri(address, "/health/ready").ToString()))
        {
            Assert.True(await byUrl.WaitForExitAsync() == 0, byUrl.Output);
        }

        host.Terminate();
        Assert.Equal(0, await host.WaitForExitAsync());

        using var afterwards = HostProcess.Start(_workingDirectory.Path, "--health-check", "--http-port", port);
        Assert.Equal(1, await afterwards.WaitForExitAsync());
        Assert.DoesNotContain("   at ", afterwards.Output, StringComparison.Ordinal); // one line, no stack trace
    }

    /// <summary>
    /// <c>Logging:Format=json</c> (issue 25): every log record, the host's and the engine's, is one JSON object on a line
    /// of its own with the fields log shippers read. The first admin's generated password is the one plain text: it is
    /// shown once on the console and is never a log record.
    /// </summary>
    [Fact]
    public async Task JsonLogFormatWritesEveryRecordAsOneObjectPerLine()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", Path.Combine(_workingDirectory.Path, "data"),
            "--Logging:Format=json");
        var mqtt = await host.WaitForMqttEndpointAsync();
        var client = await MqttTestClient.ConnectTcpAsync(mqtt, "json-log-client");
        await client.DisposeAsync();
        await host.WaitForLineAsync("json-log-client");
        host.Terminate();
        Assert.Equal(0, await host.WaitForExitAsync());

        var messages = new List<string>();
        foreach (string line in host.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith("Admin account '", StringComparison.Ordinal) || line.StartsWith("It is shown this once.", StringComparison.Ordinal))
            {
                continue;
            }

            using var record = JsonDocument.Parse(line);
            var root = record.RootElement;
            Assert.True(root.TryGetProperty("Timestamp", out var timestamp), line);
            Assert.EndsWith("Z", timestamp.GetString(), StringComparison.Ordinal);
            Assert.True(root.TryGetProperty("LogLevel", out _), line);
            Assert.True(root.TryGetProperty("Category", out _), line);
            messages.Add(root.GetProperty("Message").GetString()!);
        }

        Assert.Contains(messages, message => message.StartsWith($"MQTT listening on tcp://{mqtt}", StringComparison.Ordinal));
        Assert.Contains(messages, message => message.Contains("json-log-client", StringComparison.Ordinal));
    }

    /// <summary>
    /// Logging scopes (issue 19): captured only when the console writes them. By default no record carries one (Kestrel's
    /// connection scope would otherwise live as long as every MQTT connection); with
    /// <c>Logging:Console:FormatterOptions:IncludeScopes=true</c> the engine's record of a connecting client carries
    /// Kestrel's connection id.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task LoggingScopesAreCapturedOnlyWhenTheConsoleWritesThem(bool includeScopes)
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", Path.Combine(_workingDirectory.Path, "data"),
            "--Logging:Format=json", $"--Logging:Console:FormatterOptions:IncludeScopes={includeScopes}");
        var mqtt = await host.WaitForMqttEndpointAsync();
        var client = await MqttTestClient.ConnectTcpAsync(mqtt, "scoped-client");
        await client.DisposeAsync();
        var line = await host.WaitForLineAsync("scoped-client");
        host.Terminate();
        Assert.Equal(0, await host.WaitForExitAsync());

        using var record = JsonDocument.Parse(line);
        var scopes = record.RootElement.TryGetProperty("Scopes", out var found) ? found.EnumerateArray().Select(static scope => scope.ToString()).ToList() : [];
        if (includeScopes)
        {
            Assert.Contains(scopes, scope => scope.Contains("ConnectionId", StringComparison.Ordinal));
        }
        else
        {
            Assert.Empty(scopes);
        }
    }

    private static string Letters(Random random, int length) => string.Create(length, random, static (span, r) =>
    {
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = (char)('a' + r.Next(26));
        }
    });

    [GeneratedRegex(@"HTTP listening on (http://\S+)")]
    private static partial Regex ListeningAddress();
}
