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
            .AddCommandLine(["--http-port", "1", "--mqtt-port", "2", "--data-dir", "/x"], new Dictionary<string, string>(CommandLineSwitches.Mappings))
            .Build();

        Assert.Equal("1", configuration["Http:Port"]);
        Assert.Equal("2", configuration["Mqtt:Port"]);
        Assert.Equal("/x", configuration["Storage:DataDirectory"]);
    }

    private static SectionReader Read(string section, Dictionary<string, string?> values, HttpOptions? options = null)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var reader = new SectionReader(configuration.GetSection(section));
        (options ?? new HttpOptions()).Read(reader);
        reader.RejectUnknownKeys();
        return reader;
    }
}
