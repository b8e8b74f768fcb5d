using System.Net;
using MQTTnet.Server;

// The MQTTnet server with its default options on 127.0.0.1:<port>, until SIGTERM or stdin closes.
// Usage: IoTHub.LoadTest.MqttNetServer <port>
if (args.Length != 1 || !int.TryParse(args[0], out var port))
{
    await Console.Error.WriteLineAsync("usage: IoTHub.LoadTest.MqttNetServer <port>").ConfigureAwait(false);
    return 2;
}

var factory = new MqttServerFactory();
var options = factory.CreateServerOptionsBuilder()
    .WithDefaultEndpoint()
    .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
    .WithDefaultEndpointPort(port)
    .Build();
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
