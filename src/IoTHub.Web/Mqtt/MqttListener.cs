using IoTHub.Broker;
using IoTHub.Web.Configuration;
using IoTHub.Web.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Mqtt;

/// <summary>The broker and its TCP listener on Kestrel, configured by the "Mqtt" section.</summary>
internal static class MqttListener
{
    public static IServiceCollection AddMqttListener(this IServiceCollection services)
    {
        services.AddSingleton(static provider => new MqttBroker(
            provider.GetRequiredService<IOptions<MqttOptions>>().Value.Broker,
            provider.GetRequiredService<ILogger<MqttBroker>>()));
        services.AddOptions<KestrelServerOptions>()
            .Configure<SectionBinding<MqttOptions>, BoundListeners, IServiceProvider>(static (kestrel, binding, listeners, provider) =>
            {
                MqttOptions mqtt = binding.ReadUnvalidated();
                kestrel.Listen(mqtt.Address, mqtt.Port, listen =>
                {
                    // The broker is resolved with the first connection: by then start-up validation has passed.
                    listen.Run(connection => new MqttConnectionHandler(provider.GetRequiredService<MqttBroker>()).OnConnectedAsync(connection));
                    listeners.AddMqtt(listen);
                });
            });
        services.AddHostedService<BrokerService>();
        return services;
    }

    /// <summary>Starts the broker's monitor with the host and closes every connection when the host stops.</summary>
    private sealed class BrokerService(MqttBroker broker) : IHostedLifecycleService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            broker.Start();
            return Task.CompletedTask;
        }

        public async Task StoppingAsync(CancellationToken cancellationToken) => await broker.DisposeAsync();

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
