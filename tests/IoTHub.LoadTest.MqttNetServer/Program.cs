using System.Net;
using MQTTnet.Server;

// The MQTTnet server with its default options on 127.0.0.1:<port>, until SIGTERM or stdin closes.
// Usage: IoTHub.LoadTest.MqttNetServer <port> [max pending messages per client]
// The second argument sets MqttServerOptions.MaxPendingMessagesPerClient (default 250), the queue limit
// per session, to compare it with the other brokers' at the same limit.
var maxPending = 0;
if (args.Length is < 1 or > 2 || !int.TryParse(args[0], out var port) || (args.Length == 2 && !int.TryParse(args[1], out maxPending)))
{
    await Console.Error.WriteLineAsync("usage: IoTHub.LoadTest.MqttNetServer <port> [max pending messages per client]").ConfigureAwait(false);
    return 2;
}

var factory = new MqttServerFactory();
var builder = factory.CreateServerOptionsBuilder()
    .WithDefaultEndpoint()
    .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
    .WithDefaultEndpointPort(port);
if (maxPending > 0)
{
    builder = builder.WithMaxPendingMessagesPerClient(maxPending);
}

var options = builder.Build();
using var server = factory.CreateMqttServer(options);
using var stop = new CancellationTokenSource();
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
    System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
    {
        context.Cancel = true;
        stop.Cancel();
    });
await server.StartAsync().ConfigureAwait(false);
Console.WriteLine($"MQTTnet server listening on 127.0.0.1:{port}");
try
{
    await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
}
catch (OperationCanceledException)
{
}

await server.StopAsync().ConfigureAwait(false);
return 0;
