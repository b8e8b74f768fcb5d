using IoTHub.Web.Configuration;
using IoTHub.Web.Telemetry;
using Microsoft.Extensions.Configuration;

namespace IoTHub.Web.Tests.Telemetry;

/// <summary>The Telemetry section: its defaults, each bad value named, header values never shown.</summary>
public sealed class TelemetrySettingsTests
{
    [Fact]
    public void By_default_nothing_is_exported()
    {
        var options = new TelemetryOptions();
        var reader = Read(new(), options);

        Assert.Empty(reader.Errors);
        Assert.False(options.Otlp.Enabled);
        Assert.Equal("iothub", options.ServiceName);
        Assert.Equal(OtlpProtocol.HttpProtobuf, options.Otlp.Protocol);
        Assert.Equal(10_000, options.Otlp.ExportIntervalMilliseconds);
        Assert.True(options.Otlp.Traces);
    }

    [Fact]
    public void An_endpoint_turns_the_export_on()
    {
        var options = new TelemetryOptions();
        var reader = Read(new()
        {
            ["Telemetry:ServiceName"] = "broker-eu",
            ["Telemetry:Otlp:Endpoint"] = "https://collector.example:4317",
            ["Telemetry:Otlp:Protocol"] = "grpc",
            ["Telemetry:Otlp:Headers:Authorization"] = "Bearer abc=",
            ["Telemetry:Otlp:ExportIntervalMilliseconds"] = "60000",
            ["Telemetry:Otlp:Traces"] = "false",
        }, options);

        Assert.Empty(reader.Errors);
        Assert.True(options.Otlp.Enabled);
        Assert.Equal("broker-eu", options.ServiceName);
        Assert.Equal(new Uri("https://collector.example:4317"), options.Otlp.Endpoint);
        Assert.Equal(OtlpProtocol.Grpc, options.Otlp.Protocol);
        Assert.Equal([new KeyValuePair<string, string>("Authorization", "Bearer abc=")], options.Otlp.Headers);
        Assert.Equal(60_000, options.Otlp.ExportIntervalMilliseconds);
        Assert.False(options.Otlp.Traces);
    }

    [Theory]
    [InlineData("localhost:4318")]
    [InlineData("/v1/metrics")]
    [InlineData("collector")]
    [InlineData("ftp://collector.example/")]
    [InlineData("http://user:secret@collector.example:4318")]
    public void An_endpoint_that_is_not_an_absolute_http_url_is_refused(string endpoint)
    {
        var reader = Read(new() { ["Telemetry:Otlp:Endpoint"] = endpoint }, new TelemetryOptions());

        Assert.StartsWith($"Telemetry:Otlp:Endpoint '{endpoint}' is not an absolute http:// or https:// URL", Assert.Single(reader.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_value_is_named()
    {
        var reader = Read(new()
        {
            ["Telemetry:ServiceName"] = " ",
            ["Telemetry:Otlp:Endpoint"] = "collector:4318",
            ["Telemetry:Otlp:Protocol"] = "thrift",
            ["Telemetry:Otlp:Headers:Api Key"] = "x",
            ["Telemetry:Otlp:Headers:X-Keys"] = "one,two",
            ["Telemetry:Otlp:Headers:X-Line"] = "one\ntwo",
            ["Telemetry:Otlp:ExportIntervalMilliseconds"] = "0",
            ["Telemetry:Otlp:Traces"] = "sometimes",
            ["Telemetry:Otlp:Endpont"] = "http://127.0.0.1:4318",
            ["Telemetry:Prometheus"] = "off",
        }, new TelemetryOptions());

        SettingsTests.AssertErrors(reader,
        [
            "Telemetry:ServiceName ' ' must not be empty",
            "Telemetry:Otlp:Endpoint 'collector:4318' is not an absolute http:// or https:// URL",
            "Telemetry:Otlp:Protocol 'thrift' is not one of Grpc, HttpProtobuf",
            "Telemetry:Otlp:Headers:Api Key is not an HTTP header name",
            "Telemetry:Otlp:Headers:X-Keys holds a comma",
            "Telemetry:Otlp:Headers:X-Line holds a control character",
            "Telemetry:Otlp:ExportIntervalMilliseconds '0' is not a whole number from 100 to 3600000",
            "Telemetry:Otlp:Traces 'sometimes' is not true or false",
            "Telemetry:Otlp:Endpont is not a known setting",
            "Telemetry:Prometheus is not a known setting",
        ]);
        Assert.DoesNotContain(reader.Errors, static e => e.Contains("two", StringComparison.Ordinal));
    }

    [Fact]
    public void Header_values_are_hidden_from_the_effective_settings()
    {
        var configuration = Configuration(new() { ["Telemetry:Otlp:Endpoint"] = "http://127.0.0.1:4318", ["Telemetry:Otlp:Headers:X-Api-Key"] = "secret-key" });
        var effective = new EffectiveSettings(configuration);

        new TelemetryOptions().Read(new SectionReader(configuration.GetSection(TelemetryOptions.SectionName), effective: effective));

        var settings = effective.Settings.ToDictionary(static s => s.Key, static s => s.Value);
        Assert.Equal(EffectiveSettings.Hidden, settings["Telemetry:Otlp:Headers:X-Api-Key"]);
        Assert.Equal("http://127.0.0.1:4318", settings["Telemetry:Otlp:Endpoint"]);
        Assert.Equal("HttpProtobuf", settings["Telemetry:Otlp:Protocol"]);
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private static SectionReader Read(Dictionary<string, string?> values, TelemetryOptions options)
    {
        var reader = new SectionReader(Configuration(values).GetSection(TelemetryOptions.SectionName));
        options.Read(reader);
        reader.RejectUnknownKeys();
        return reader;
    }
}
