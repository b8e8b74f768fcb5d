using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IoTHub.Web.Tests;

/// <summary>The host in-process under WebApplicationFactory, over a real socket.</summary>
public sealed class KestrelHostTests(KestrelHost host) : IClassFixture<KestrelHost>
{
    [Fact]
    public async Task LivenessAnswersHealthy()
    {
        Assert.NotEqual(0, host.Client.BaseAddress!.Port);

        using HttpResponseMessage response = await host.Client.GetAsync(new Uri("/health/live", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public void RepositorySettingsFileIsLoadedAlthoughTheContentRootIsTheProjectFolder()
    {
        var environment = host.Services.GetRequiredService<IHostEnvironment>();
        var configuration = host.Services.GetRequiredService<IConfiguration>();

        Assert.Equal("IoTHub.Web", new DirectoryInfo(environment.ContentRootPath).Name);
        // Only appsettings.json sets this key; the options' own defaults never reach IConfiguration.
        Assert.Equal("Warning", configuration["Logging:LogLevel:Microsoft.AspNetCore"]);
    }

    [Fact]
    public async Task RepositoryWebRootIsServed()
    {
        string readme = await host.Client.GetStringAsync(new Uri("/README.md", UriKind.Relative));

        Assert.Contains("web root", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void DataDirectoryIsCreatedAtStart() => Assert.True(Directory.Exists(host.DataDirectory));
}
