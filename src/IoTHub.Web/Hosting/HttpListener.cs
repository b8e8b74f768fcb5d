using IoTHub.Web.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace IoTHub.Web.Hosting;

/// <summary>Binds Kestrel to the "Http" section and logs the address it really got (port 0 included).</summary>
internal static class HttpListener
{
    public static IServiceCollection AddHttpListener(this IServiceCollection services)
    {
        services.AddSingleton<BoundListeners>();
        services.AddOptions<KestrelServerOptions>()
            .Configure<SectionBinding<HttpOptions>, BoundListeners>(static (kestrel, binding, listeners) =>
            {
                HttpOptions http = binding.ReadUnvalidated();
                kestrel.Listen(http.Address, http.Port, listeners.AddHttp);
            });
        services.AddHostedService<ListeningAddressLogger>();
        return services;
    }

    private sealed class ListeningAddressLogger(BoundListeners listeners, ILogger<ListeningAddressLogger> logger) : IHostedLifecycleService
    {
        // Runs once every hosted service, the web server included, has started.
        public Task StartedAsync(CancellationToken cancellationToken)
        {
            foreach (var endpoint in listeners.Http)
            {
                HostLog.HttpListening(logger, endpoint);
            }

            foreach (var listener in listeners.Mqtt)
            {
                HostLog.MqttListening(logger, listener.Endpoint, listener.Broker);
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
