using System.Net;
using IoTHub.LoadTest.KestrelServer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// A bare Kestrel TCP listener on 127.0.0.1:<port> whose ConnectionHandler only reads and discards
// until the client closes: what any Kestrel-hosted broker pays per connection before its own state.
// Usage: IoTHub.LoadTest.KestrelServer <port>
if (args.Length != 1 || !int.TryParse(args[0], out var port))
{
    await Console.Error.WriteLineAsync("usage: IoTHub.LoadTest.KestrelServer <port>").ConfigureAwait(false);
    return 2;
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
    kestrel.Listen(IPAddress.Loopback, port, listen => listen.UseConnectionHandler<EmptyConnectionHandler>()));
var app = builder.Build();
await app.StartAsync().ConfigureAwait(false);
Console.WriteLine($"Kestrel listening on 127.0.0.1:{port}");
await app.WaitForShutdownAsync().ConfigureAwait(false);
return 0;
