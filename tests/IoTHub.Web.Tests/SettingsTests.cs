using IoTHub.Web.Configuration;
using Microsoft.Extensions.Configuration;

namespace IoTHub.Web.Tests;

public sealed class SettingsTests
{
    [Fact]
    public void ReaderReportsEveryBadKeyOfASection()
    {
        SectionReader reader = Read("Http", new() { ["Http:Port"] = "-1", ["Http:Address"] = "", ["Http:Prot"] = "80" });

        Assert.Collection(
            reader.Errors,
            e => Assert.StartsWith("Http:Address ''", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Http:Port '-1'", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Http:Prot is not a known setting", e, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("0", "::1")]
    [InlineData("65535", "0.0.0.0")]
    public void ReaderAcceptsPortAndAddressLimits(string port, string address)
    {
        var options = new HttpOptions();

        SectionReader reader = Read("Http", new() { ["Http:Port"] = port, ["Http:Address"] = address }, options);

        Assert.Empty(reader.Errors);
        Assert.Equal(port, options.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(address, options.Address.ToString());
    }

    [Fact]
    public void SwitchesMapToTheirKeys()
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddCommandLine(["--http-port", "1", "--mqtt-port", "2", "--data-dir", "/x", "--mosquitto-config", "/etc/mosquitto/mosquitto.conf"],
                new Dictionary<string, string>(CommandLineSwitches.Mappings))
            .Build();

        Assert.Equal("1", configuration["Http:Port"]);
        Assert.Equal("2", configuration["Mqtt:Port"]);
        Assert.Equal("/x", configuration["Storage:DataDirectory"]);
        Assert.Equal("/etc/mosquitto/mosquitto.conf", configuration["Mqtt:MosquittoConfig"]);
    }

    [Fact]
    public void BrokerLimitsAreReadFromTheMqttSection()
    {
        var options = new MqttOptions();
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mqtt:MaximumPacketSize"] = "2048",
            ["Mqtt:ConnectTimeout"] = "00:00:03",
            ["Mqtt:AuthenticationTimeout"] = "00:00:02",
            ["Mqtt:QueueOverflowPolicy"] = "DropNewest",
            ["Mqtt:QueueQoS0WhileOffline"] = "true",
            ["Mqtt:PersistentSessionLifetime"] = "2.00:00:00",
        }).Build();
        var reader = new SectionReader(configuration.GetSection("Mqtt"));

        options.ReadAll(reader);
        reader.RejectUnknownKeys();

        Assert.Empty(reader.Errors);
        Assert.Equal(2048, options.Broker.MaximumPacketSize);
        Assert.Equal(TimeSpan.FromSeconds(3), options.Broker.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Broker.AuthenticationTimeout);
        Assert.Equal(IoTHub.Broker.QueueOverflowPolicy.DropNewest, options.Broker.QueueOverflowPolicy);
        Assert.True(options.Broker.QueueQoS0WhileOffline);
        Assert.Equal(TimeSpan.FromDays(2), options.Broker.PersistentSessionLifetime);
    }

    [Fact]
    public void BadBrokerLimitsAreAllReported()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mqtt:MaximumPacketSize"] = "10",
            ["Mqtt:ConnectTimeout"] = "soon",
            ["Mqtt:QueueOverflowPolicy"] = "DropEverything",
            ["Mqtt:QueueQoS0WhileOffline"] = "maybe",
            ["Mqtt:MaximumInflightMessages"] = "0",
            ["Mqtt:RetainedDeliveryBatch"] = "0",
        }).Build();
        var reader = new SectionReader(configuration.GetSection("Mqtt"));
        var options = new MqttOptions();

        options.ReadAll(reader);

        Assert.Equal(6, reader.Errors.Count);
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:MaximumPacketSize '10'", StringComparison.Ordinal));
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:ConnectTimeout 'soon'", StringComparison.Ordinal));
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:QueueOverflowPolicy 'DropEverything' is not one of DropOldestQoS0, DropNewest", StringComparison.Ordinal));
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:QueueQoS0WhileOffline 'maybe'", StringComparison.Ordinal));
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:MaximumInflightMessages '0'", StringComparison.Ordinal));
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:RetainedDeliveryBatch '0'", StringComparison.Ordinal));
    }

    [Fact]
    public void NamedBrokersStartFromTheDefaultBrokersSettings()
    {
        var options = new MqttOptions();
        SectionReader reader = ReadMqtt(new()
        {
            ["Mqtt:MaximumQueuedMessages"] = "42",
            ["Mqtt:Brokers:lab:Port"] = "1884",
            ["Mqtt:Brokers:lab:MaximumPacketSize"] = "4096",
        }, options);

        Assert.Empty(reader.Errors);
        MqttOptions lab = Assert.Single(options.AdditionalBrokers);
        Assert.Equal("lab", lab.Name);
        Assert.Equal(1884, lab.Port);
        Assert.Equal(4096, lab.Broker.MaximumPacketSize);
        Assert.Equal(42, lab.Broker.MaximumQueuedMessages);
        Assert.Equal(1_048_576, options.Broker.MaximumPacketSize);
    }

    [Fact]
    public void NamedBrokerMistakesAreAllReported()
    {
        SectionReader reader = ReadMqtt(new()
        {
            ["Mqtt:Port"] = "1883",
            ["Mqtt:Brokers:noport:MaximumPacketSize"] = "4096",
            ["Mqtt:Brokers:clash:Port"] = "1883",
            ["Mqtt:Brokers:typo:Port"] = "1885",
            ["Mqtt:Brokers:typo:MaximumPaketSize"] = "1",
        }, new MqttOptions());

        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:Brokers:noport:Port must be set", StringComparison.Ordinal));
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:Brokers:clash:Port 1883 is already the port of another broker", StringComparison.Ordinal));
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:Brokers:typo:MaximumPaketSize is not a known setting", StringComparison.Ordinal));
    }

    [Fact]
    public void ListenersAreReadAsUrlsForEveryBroker()
    {
        var options = new MqttOptions();
        SectionReader reader = ReadMqtt(new()
        {
            ["Mqtt:Port"] = "1883",
            ["Mqtt:Listeners:lan:Url"] = "tcp://0.0.0.0:1884",
            ["Mqtt:Listeners:v6:Url"] = "tcp://[::1]:1885",
            ["Mqtt:Brokers:lab:Port"] = "1886",
            ["Mqtt:Brokers:lab:Listeners:extra:Url"] = "tcp://127.0.0.1:1887",
        }, options);

        Assert.Empty(reader.Errors);
        Assert.Equal(
            ["default 127.0.0.1:1883", "lan 0.0.0.0:1884", "v6 [::1]:1885"],
            options.AllListeners.Select(static l => $"{l.Name} {new System.Net.IPEndPoint(l.Address, l.Port)}"));
        Assert.Equal(["default", "extra"], options.AdditionalBrokers.Single().AllListeners.Select(static l => l.Name));
        Assert.Equal(1887, options.AdditionalBrokers.Single().Listeners.Single().Port);
    }

    [Theory]
    [InlineData("udp://127.0.0.1:8883", "is not an MQTT listener URL")]
    [InlineData("ws://127.0.0.1:8083/mqtt?x=1", "is not an MQTT listener URL")]
    [InlineData("tls://127.0.0.1:8883/mqtt", "is not an MQTT listener URL")]
    [InlineData("tcp://broker.example:1884", "is not an MQTT listener URL")]
    [InlineData("tcp://127.0.0.1", "is not an MQTT listener URL")]
    [InlineData("tcp://127.0.0.1:1884/mqtt", "is not an MQTT listener URL")]
    [InlineData("1884", "is not an MQTT listener URL")]
    [InlineData("tcp://127.0.0.1:1883", "port 1883 is already taken by another MQTT listener")]
    public void BadListenerUrlsAreReportedByKey(string url, string problem)
    {
        SectionReader reader = ReadMqtt(new() { ["Mqtt:Port"] = "1883", ["Mqtt:Listeners:second:Url"] = url }, new MqttOptions());
        Assert.Contains(problem, Assert.Single(reader.Errors, e => e.StartsWith("Mqtt:Listeners:second:Url", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public void ListenerMistakesAreAllReported()
    {
        SectionReader reader = ReadMqtt(new()
        {
            ["Mqtt:Port"] = "1883",
            ["Mqtt:Listeners:nourl:Address"] = "0.0.0.0",
            ["Mqtt:Listeners:default:Url"] = "tcp://127.0.0.1:1890",
            ["Mqtt:Listeners:HTTP:Url"] = "tcp://127.0.0.1:1892",
            ["Mqtt:Listeners:one:Url"] = "tcp://127.0.0.1:1891",
            ["Mqtt:Brokers:lab:Port"] = "1891",
        }, new MqttOptions());

        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:Listeners:nourl:Url must be set", StringComparison.Ordinal));
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:Listeners:nourl:Address is not a known setting", StringComparison.Ordinal));
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:Listeners:default:Url belongs to a listener named 'default'", StringComparison.Ordinal));
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:Listeners:HTTP:Url belongs to a listener named 'http'", StringComparison.Ordinal));
        Assert.Contains(reader.Errors, e => e.StartsWith("Mqtt:Brokers:lab:Port 1891 is already the port of another broker", StringComparison.Ordinal));
    }

    [Fact]
    public void Mqtt5CapabilitiesAreReadAndRedirectNeedsAReference()
    {
        var options = new MqttOptions();
        SectionReader reader = ReadMqtt(new()
        {
            ["Mqtt:TopicAliasMaximum"] = "0",
            ["Mqtt:ServerKeepAlive"] = "30",
            ["Mqtt:MaximumKeepAlive"] = "60",
            ["Mqtt:MaximumQoS"] = "1",
            ["Mqtt:RetainAvailable"] = "false",
            ["Mqtt:Redirect"] = "ServerMoved",
        }, options);

        Assert.Equal(0, options.Broker.TopicAliasMaximum);
        Assert.Equal(30, options.Broker.ServerKeepAlive);
        Assert.Equal(60, options.Broker.MaximumKeepAlive);
        Assert.Equal(IoTHub.Mqtt.QualityOfService.AtLeastOnce, options.Broker.MaximumQoS);
        Assert.False(options.Broker.RetainAvailable);
        Assert.Equal(IoTHub.Broker.ServerRedirect.ServerMoved, options.Broker.Redirect);
        Assert.StartsWith("Mqtt:ServerReference must be set when Redirect is ServerMoved", Assert.Single(reader.Errors), StringComparison.Ordinal);
    }

    /// <summary>Asserts that the reader recorded exactly one error starting with each of <paramref name="expected"/>.</summary>
    internal static void AssertErrors(SectionReader reader, string[] expected)
    {
        Assert.Equal(expected.Length, reader.Errors.Count);
        Assert.All(expected, start => Assert.Contains(reader.Errors, e => e.StartsWith(start, StringComparison.Ordinal)));
    }

    internal static SectionReader ReadMqtt(Dictionary<string, string?> values, MqttOptions options)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var reader = new SectionReader(configuration.GetSection("Mqtt"));
        options.ReadAll(reader);
        reader.RejectUnknownKeys();
        return reader;
    }

    internal static SectionReader Read(string section, Dictionary<string, string?> values, HttpOptions? options = null)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var reader = new SectionReader(configuration.GetSection(section));
        (options ?? new HttpOptions()).Read(reader);
        reader.RejectUnknownKeys();
        return reader;
    }
}
