using System.Globalization;
using IoTHub.Testing;

namespace IoTHub.Interop.Tests.Transports;

/// <summary>
/// Per-listener settings with real clients on a host whose "Security:AllowAnonymous" is false: "open" lets anonymous
/// clients in all the same, "limited" holds one connection at a time, "rate" accepts one connection a second.
/// </summary>
public sealed class ListenerSettingsHost : IDisposable
{
    public ListenerSettingsHost()
    {
        Host = new InteropHost(new Dictionary<string, string>
        {
            ["Security:AllowAnonymous"] = "false",
            ["Mqtt:Listeners:open:Url"] = "tcp://127.0.0.1:0",
            ["Mqtt:Listeners:open:AllowAnonymous"] = "true",
            ["Mqtt:Listeners:limited:Url"] = "tcp://127.0.0.1:0",
            ["Mqtt:Listeners:limited:AllowAnonymous"] = "true",
            ["Mqtt:Listeners:limited:MaximumConnections"] = "1",
            ["Mqtt:Listeners:rate:Url"] = "tcp://127.0.0.1:0",
            ["Mqtt:Listeners:rate:AllowAnonymous"] = "true",
            ["Mqtt:Listeners:rate:ConnectRate"] = "1",
        });
    }

    public InteropHost Host { get; }

    public void Dispose() => Host.Dispose();
}

public sealed class ListenerSettingsTests(ListenerSettingsHost settings) : IClassFixture<ListenerSettingsHost>
{
    private InteropHost Host => settings.Host;

    [Fact]
    public async Task A_listeners_AllowAnonymous_overrides_the_security_section()
    {
        Assert.NotEqual(0, await PublishAsync(Host.Port, "anonymous-default"));
        Assert.Equal(0, await PublishAsync(Host.Listener("open").Port, "anonymous-open"));
    }

    /// <summary>Over MaximumConnections a connection is closed before CONNECT is read (as Mosquitto's max_connections).</summary>
    [Fact]
    public async Task MaximumConnections_refuses_connections_beyond_it_until_one_closes()
    {
        var port = Host.Listener("limited").Port;
        var first = await MqttNetClient.ConnectAsync(Host, Protocol.V500, "limited-first",
            transport: builder => builder.WithTcpServer("127.0.0.1", port));
        Assert.NotEqual(0, await PublishAsync(port, "limited-second"));

        await first.DisposeAsync();
        await Poll.UntilAsync(async () => await PublishAsync(port, "limited-third") == 0, ChildProcess.Timeout, "no connection was accepted after the first closed");
    }

    /// <summary>Six clients at once on a listener that accepts one a second: some are turned away, and later ones get in again.</summary>
    [Fact]
    public async Task ConnectRate_refuses_connections_beyond_it_within_a_second()
    {
        var port = Host.Listener("rate").Port;
        var burst = Enumerable.Range(0, 6).Select(i => ChildProcess.Start("/usr/bin/mosquitto_pub", Arguments(port, $"rate-{i}"))).ToList();
        try
        {
            var codes = await Task.WhenAll(burst.Select(static p => p.WaitForExitAsync()));
            Assert.Contains(0, codes);
            Assert.Contains(codes, static code => code != 0);
        }
        finally
        {
            burst.ForEach(static p => p.Dispose());
        }

        await Poll.UntilAsync(async () => await PublishAsync(port, "rate-later") == 0, ChildProcess.Timeout, "no connection was accepted after the burst");
    }

    private static async Task<int> PublishAsync(int port, string clientId)
    {
        using var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", Arguments(port, clientId));
        return await publisher.WaitForExitAsync();
    }

    private static List<string> Arguments(int port, string clientId) =>
        ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-i", clientId, "-t", "limits/t", "-m", "m"];
}
