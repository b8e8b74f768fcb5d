using IoTHub.Web.Configuration;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace IoTHub.Web.Hosting;

/// <summary>Binds Kestrel to the "Http" section and logs the address it really got (port 0 included).</summary>
internal static class HttpListener
{
    public static IServiceCollection AddHttpListener(this IServiceCollection services)
    {
        services.AddOptions<KestrelServerOptions>()
            .Configure<SectionBinding<HttpOptions>>(static (kestrel, binding) =>
            {
                HttpOptions http = binding.ReadUnvalidated();
                kestrel.Listen(http.Address, http.Port);
            });
        services.AddHostedService<ListeningAddressLogger>();
        return services;
    }

    private sealed class ListeningAddressLogger(IServer server, ILogger<ListeningAddressLogger> logger) : IHostedLifecycleService
    {
        // Runs once every hosted service, the web server included, has started.
        public Task StartedAsync(CancellationToken cancellationToken)
        {
            foreach (string address in server.Features.GetRequiredFeature<IServerAddressesFeature>().Addresses)
            {
                HostLog.HttpListening(logger, address);
            }

            return Task.CompletedTask;
        }

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
