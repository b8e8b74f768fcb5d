using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MQTTnet.AspNetCore;
using MQTTnet.Server;

namespace IoTHub.LoadTest.MqttNetServer;

/// <summary>
/// The MQTTnet server over WebSockets, the way MQTTnet serves them: its ASP.NET Core connection handler at
/// <c>/mqtt</c> on a Kestrel endpoint (with the certificate over TLS 1.3 for wss), which answers the sub-protocol <c>mqtt</c>.
/// </summary>
internal static class WebSocketServer
{
    public static async Task RunAsync(int port, X509Certificate2? certificate, Action<MqttServerOptionsBuilder> configure, CancellationToken stop)
    {
        // Its own folder as the content root: the repository's appsettings.json (IoTHub's) in the working directory is not its.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate, https => https.SslProtocols = SslProtocols.Tls13);
            }
        }));
        builder.Services.AddHostedMqttServer(mqtt =>
        {
            mqtt.WithoutDefaultEndpoint();
            configure(mqtt);
        });
        builder.Services.AddMqttConnectionHandler();
        builder.Services.AddConnections();
        await using var app = builder.Build();
        app.MapMqtt("/mqtt");
        await app.StartAsync(CancellationToken.None).ConfigureAwait(false);
        Console.WriteLine($"MQTTnet server listening on {(certificate is null ? "ws" : "wss")}://127.0.0.1:{port}/mqtt");
        try
        {
            await Task.Delay(Timeout.Infinite, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
    }
}
