using System.Globalization;
using System.Net;

namespace IoTHub.Web.Health;

/// <summary>
/// <c>IoTHub.Web --health-check [url]</c>: asks a running host's GET /health/ready and exits 0 on 200, 1 otherwise.
/// The container image's HEALTHCHECK runs it, as the runtime image has neither curl nor wget. Without a URL the
/// host's own HTTP endpoint is asked on loopback, found from the same settings the host reads (appsettings.json,
/// environment variables, the switches after --health-check): Http:Port, Http:Address, and HTTPS when
/// Http:Certificate or Http:Certificates is set (its certificate is not checked: the probe talks to its own host).
/// </summary>
internal static class HealthProbe
{
    public const string Switch = "--health-check";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(string[] args)
    {
        Uri url;
        try
        {
            url = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? new Uri(args[0]) : DefaultUrl(args);
        }
        catch (UriFormatException e)
        {
            await Console.Error.WriteLineAsync($"health check: {e.Message}");
            return 1;
        }
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            // The probe asks its own host on loopback, whose certificate names the public host name (or is self-signed):
            // any certificate it presents will do.
            SslOptions = { RemoteCertificateValidationCallback = static (_, certificate, _, _) => certificate is not null },
        };
        using var client = new HttpClient(handler) { Timeout = Timeout };
        try
        {
            using HttpResponseMessage response = await client.GetAsync(url);
            string body = await response.Content.ReadAsStringAsync();
            Console.WriteLine($"health check: {url} answered {(int)response.StatusCode} {body}");
            return response.StatusCode == HttpStatusCode.OK ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            await Console.Error.WriteLineAsync($"health check: {url}: {e.Message}");
            return 1;
        }
    }

    private static Uri DefaultUrl(string[] args)
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(args, new Dictionary<string, string>(Configuration.CommandLineSwitches.Mappings))
            .Build();
        IConfigurationSection http = configuration.GetSection("Http");
        int port = int.TryParse(http["Port"], NumberStyles.None, CultureInfo.InvariantCulture, out int configured) ? configured : 8080;
        string host = "127.0.0.1";
        if (IPAddress.TryParse(http["Address"], out IPAddress? address))
        {
            if (address.Equals(IPAddress.IPv6Any) || IPAddress.IsLoopback(address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
                host = "[::1]";
            else if (!address.Equals(IPAddress.Any) && !IPAddress.IsLoopback(address))
                host = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        }
        bool https = !string.IsNullOrEmpty(http["Certificate"]) || http.GetSection("Certificates").GetChildren().Any();
        string scheme = https ? "https" : "http";
        return new Uri($"{scheme}://{host}:{port}/health/ready");
    }
}
