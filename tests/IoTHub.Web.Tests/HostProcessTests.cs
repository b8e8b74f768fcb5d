using System.Text.RegularExpressions;

namespace IoTHub.Web.Tests;

/// <summary>The built host as an operator runs it: a child process with command-line switches.</summary>
public sealed partial class HostProcessTests : IDisposable
{
    private readonly TempDirectory _workingDirectory = new();

    [Fact]
    public async Task BadValuesStopTheHostWithOneMessageNamingEveryBadKey()
    {
        string dataDirectory = Path.Combine(_workingDirectory.Path, "data");
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "70000", "--Mqtt:Address=not-an-ip", "--data-dir", dataDirectory);

        int exitCode = await host.WaitForExitAsync();

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Http:Port '70000'", host.Output, StringComparison.Ordinal);
        Assert.Contains("Mqtt:Address 'not-an-ip'", host.Output, StringComparison.Ordinal);
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

        host.Terminate();

        Assert.Equal(0, await host.WaitForExitAsync());
    }

    public void Dispose() => _workingDirectory.Dispose();

    [GeneratedRegex(@"HTTP listening on (http://\S+)")]
    private static partial Regex ListeningAddress();
}
