using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using IoTHub.LoadTest.MqttNetServer;
using MQTTnet.Server;

// The MQTTnet server with its default options on 127.0.0.1:<port>, until SIGTERM.
// Usage: IoTHub.LoadTest.MqttNetServer <port> [--transport tcp|tls|ws|wss] [--max-pending n] [--certificate server.pem --key server.key]
// --max-pending sets MqttServerOptions.MaxPendingMessagesPerClient (default 250), the queue limit per session, to compare
// it with the other brokers' at the same limit. tls and wss serve the PEM certificate and key over TLS 1.3 only; ws and wss
// serve MQTT over WebSocket at /mqtt through MQTTnet.AspNetCore (WebSocketServer.cs).
const string Usage = "usage: IoTHub.LoadTest.MqttNetServer <port> [--transport tcp|tls|ws|wss] [--max-pending n] [--certificate server.pem --key server.key]";
if (args.Length == 0 || !int.TryParse(args[0], CultureInfo.InvariantCulture, out var port))
{
    await Console.Error.WriteLineAsync(Usage).ConfigureAwait(false);
    return 2;
}

var (transport, maxPending, certificatePath, keyPath) = ("tcp", 0, (string?)null, (string?)null);
for (var i = 1; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--transport":
            transport = args[i + 1];
            break;
        case "--max-pending":
            maxPending = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        case "--certificate":
            certificatePath = args[i + 1];
            break;
        case "--key":
            keyPath = args[i + 1];
            break;
        default:
            await Console.Error.WriteLineAsync(Usage).ConfigureAwait(false);
            return 2;
    }
}

var secure = transport is "tls" or "wss";
if (args.Length % 2 == 0 || transport is not ("tcp" or "tls" or "ws" or "wss") || secure != (certificatePath is not null && keyPath is not null))
{
    await Console.Error.WriteLineAsync(Usage).ConfigureAwait(false);
    return 2;
}

using var certificate = secure ? X509Certificate2.CreateFromPemFile(certificatePath!, keyPath) : null;
using var stop = new CancellationTokenSource();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

void Configure(MqttServerOptionsBuilder builder)
{
    if (maxPending > 0)
    {
        builder.WithMaxPendingMessagesPerClient(maxPending);
    }
}

if (transport is "ws" or "wss")
{
    await WebSocketServer.RunAsync(port, certificate, Configure, stop.Token).ConfigureAwait(false);
    return 0;
}

var factory = new MqttServerFactory();
var builder = factory.CreateServerOptionsBuilder();
if (certificate is null)
{
    builder.WithDefaultEndpoint()
        .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
        .WithDefaultEndpointPort(port);
}
else
{
    builder.WithoutDefaultEndpoint()
        .WithEncryptedEndpoint()
        .WithEncryptedEndpointBoundIPAddress(IPAddress.Loopback)
        .WithEncryptedEndpointPort(port)
        .WithEncryptionCertificate(certificate)
        .WithEncryptionSslProtocol(SslProtocols.Tls13);
}

Configure(builder);
using var server = factory.CreateMqttServer(builder.Build());
await server.StartAsync().ConfigureAwait(false);
Console.WriteLine($"MQTTnet server listening on {transport}://127.0.0.1:{port}");
try
{
    await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
}
catch (OperationCanceledException)
{
}

await server.StopAsync().ConfigureAwait(false);
return 0;
