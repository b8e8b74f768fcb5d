using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Security.Certificates;
using IoTHub.Broker.Storage;
using IoTHub.Web.Configuration;
using IoTHub.Web.Hosting;
using IoTHub.Web.Transports.Tls;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace IoTHub.Web.Mqtt;

/// <summary>The brokers and their listeners (tcp, tls, ws, wss) on Kestrel, configured by the "Mqtt" section.</summary>
internal static class MqttListener
{
    /// <summary>Time the host gets beyond the longest drain to close connections and stop the web server.</summary>
    private static readonly TimeSpan ShutdownMargin = TimeSpan.FromSeconds(10);

    public static IServiceCollection AddMqttListener(this IServiceCollection services)
    {
        services.AddSingleton<BrokerRegistry>();
        services.AddSingleton(static provider => provider.GetRequiredService<BrokerRegistry>().Default);
        services.AddOptions<KestrelServerOptions>()
            .Configure<SectionBinding<MqttOptions>, BoundListeners, IServiceProvider>(static (kestrel, binding, listeners, provider) =>
            {
                foreach (MqttOptions mqtt in binding.ReadUnvalidated().AllBrokers)
                {
                    string name = mqtt.Name;
                    foreach (MqttListenerUrl listener in mqtt.AllListeners)
                    {
                        kestrel.Listen(listener.Address, listener.Port, listen =>
                        {
                            // ws/wss speak HTTP (the WebSocket middleware serves them: UseMqttWebSockets), in the versions
                            // the listener names; tcp/tls carry MQTT itself.
                            if (listener.WebSocket is { } webSocket)
                            {
                                listen.Protocols = webSocket.Protocols;
                            }

                            ServerCertificates? certificates = null;
                            if (listener.Tls is { } tls)
                            {
                                // MQTT has no ALPN name; wss says which HTTP versions it speaks (h2 for RFC 8441 WebSockets).
                                certificates = new ServerCertificates(tls, listener.WebSocket is null ? null : TlsTransport.ApplicationProtocols(listen.Protocols),
                                    provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<ServerCertificates>>());
                                listen.UseTls(certificates, mqtt.Broker.ConnectTimeout);
                            }

                            if (!listener.IsWebSocket)
                            {
                                // Each listener carries its broker's name; the broker is resolved with the first
                                // connection, when start-up validation has passed.
                                // Named when the first connection comes: by then a port 0 is the real one.
                                string? url = null;
                                var transport = listener.IsSecure ? TransportKind.Tls : TransportKind.Tcp;
                                var identity = listener.Tls?.CertificateIdentity ?? CertificateIdentity.None;
                                listen.Run(connection => new MqttConnectionHandler(provider.GetRequiredService<BrokerRegistry>()[name],
                                    url ??= listener.Format(listen.IPEndPoint!), transport, identity).OnConnectedAsync(connection));
                            }

                            listeners.AddMqtt(name, listener, listen, certificates);
                        });
                    }
                }
            });
        services.AddOptions<HostOptions>()
            .Configure<SectionBinding<MqttOptions>>(static (host, binding) =>
            {
                // Read before validation (the host's lifetime needs it at build); bad values stop the host at start anyway.
                TimeSpan longestDrain = binding.ReadUnvalidated().AllBrokers.Max(static broker => broker.Broker.DrainTimeout);
                host.ShutdownTimeout = longestDrain + ShutdownMargin;
            });
        services.AddHostedService<BrokerService>();
        return services;
    }

    /// <summary>
    /// Starts the brokers with the host. At shutdown, before the web server stops, each broker drains
    /// its queues for up to its drain timeout and closes its connections (5.0 clients get 0x8B).
    /// </summary>
    private sealed class BrokerService(BrokerRegistry registry, IServiceProvider services) : IHostedLifecycleService
    {
        /// <summary>
        /// The default broker keeps its state in the configured store (opened before this service starts);
        /// named brokers live in memory.
        /// </summary>
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            // Resolved now, not in the constructor: the store is opened by the storage service's own start.
            var store = services.GetRequiredService<IBrokerStore>();
            registry.Default.AttachStorage(services.GetRequiredService<StorageWriter>(), await store.LoadAsync(cancellationToken));
            foreach (MqttBroker broker in registry.Brokers.Values)
            {
                broker.Start();
            }
        }

        public Task StoppingAsync(CancellationToken cancellationToken) =>
            Task.WhenAll(registry.Brokers.Values.Select(static broker => broker.StopAsync(broker.Options.DrainTimeout)));

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        /// <summary>After the drain, the brokers stop for good (monitors included) before storage, stopped after this service, closes.</summary>
        public async Task StopAsync(CancellationToken cancellationToken)
        {
            foreach (MqttBroker broker in registry.Brokers.Values)
            {
                await broker.DisposeAsync();
            }
        }

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
