using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Security.Certificates;
using IoTHub.Broker.Storage;
using IoTHub.Web.Cluster;
using IoTHub.Web.Configuration;
using IoTHub.Web.Drain;
using IoTHub.Web.Hosting;
using IoTHub.Web.Transports;
using IoTHub.Web.Transports.Detect;
using IoTHub.Web.Transports.Limits;
using IoTHub.Web.Transports.Proxy;
using IoTHub.Web.Transports.Sockets;
using IoTHub.Web.Transports.Tls;
using IoTHub.Web.Transports.Unix;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Mqtt;

/// <summary>The brokers and their listeners (tcp, tls, ws, wss, unix, detect) on Kestrel, configured by the "Mqtt" section.</summary>
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
                    foreach (MqttListenerUrl listener in mqtt.AllListeners)
                    {
                        if (listener.Unix is { } unix)
                        {
                            kestrel.ListenUnixSocket(unix.Path, listen => Configure(listen, mqtt, listener, listeners, provider));
                        }
                        else
                        {
                            kestrel.Listen(new MqttEndPoint(listener.Address, listener.Port), listen => Configure(listen, mqtt, listener, listeners, provider));
                        }
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
        services.AddSingleton<IConnectionListenerFactory, MqttSocketTransport>();
        services.AddSingleton<NodeDrain>();
        services.AddHostedService<BrokerService>();
        services.AddHostedService<UnixSocketFiles>();
        return services;
    }

    /// <summary>
    /// One listener's connection middleware, in order: its limits, the PROXY protocol header, then TLS and MQTT (tcp, tls,
    /// unix), TLS and Kestrel's HTTP server for the WebSocket middleware (ws, wss), or detection (detect). Plain
    /// listeners get nothing but MQTT.
    /// </summary>
    private static void Configure(ListenOptions listen, MqttOptions mqtt, MqttListenerUrl listener, BoundListeners listeners, IServiceProvider provider)
    {
        var timeout = mqtt.Broker.ConnectTimeout;
        var refused = new RefusedConnections(listener.Name, provider.GetRequiredService<ILoggerFactory>().CreateLogger("IoTHub.Web.Transports"));
        if (listener.Limits is { } limits)
        {
            var limiter = new ConnectionLimiter(limits, refused);
            provider.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(limiter.Dispose);
            listen.Use(next => connection => limiter.OnConnectionAsync(connection, next));
        }

        if (listener.ProxyProtocol is { } proxy)
        {
            var reader = new ProxyProtocolReader(proxy, timeout, refused);
            listen.Use(next => connection => reader.OnConnectionAsync(connection, next));
        }

        // ws/wss speak HTTP in the versions the listener names (wss says which in ALPN: h2 for RFC 8441 WebSockets); tls
        // carries MQTT itself, which has no ALPN name; nor does a detect listener, whose clients may speak either.
        if (listener.IsWebSocket)
        {
            listen.Protocols = listener.WebSocket!.Protocols;
        }

        var certificates = listener.Tls is { } tls
            ? new ServerCertificates(tls, listener.IsWebSocket ? TlsTransport.ApplicationProtocols(listen.Protocols) : null,
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<ServerCertificates>>())
            : null;

        // Each listener carries its broker's name; the broker is resolved with the first connection, when start-up
        // validation has passed. Named when the first connection comes: by then a port 0 is the real one.
        string? url = null;
        var plain = listener.Unix is null ? TransportKind.Tcp : TransportKind.Unix;
        var identity = listener.Tls?.CertificateIdentity ?? CertificateIdentity.None;
        ConnectionDelegate handler = connection => new MqttConnectionHandler(provider.GetRequiredService<BrokerRegistry>()[mqtt.Name],
            url ??= listener.Format(listen.EndPoint), plain, listener.AllowAnonymous, identity).OnConnectedAsync(connection);
        if (listener.Scheme == ListenerScheme.Detect)
        {
            ProtocolDetection.Use(listen, handler, certificates, timeout, refused);
        }
        else
        {
            if (certificates is not null)
            {
                listen.UseTls(certificates, timeout);
            }

            if (!listener.IsWebSocket)
            {
                // The WebSocket middleware serves ws/wss (UseMqttWebSockets).
                listen.Run(connection => handler(connection));
            }
        }

        listeners.AddMqtt(mqtt.Name, listener, listen, certificates);
    }

    /// <summary>
    /// Starts the brokers with the host. At shutdown, before the web server stops, the node drains (<see cref="NodeDrain"/>:
    /// each broker delivers its queues for up to its drain timeout and closes its connections, 5.0 clients get 0x8B; a
    /// clustered node then leaves the membership).
    /// </summary>
    private sealed class BrokerService(BrokerRegistry registry, NodeDrain drain, IServiceProvider services) : IHostedLifecycleService
    {
        /// <summary>
        /// The default broker keeps its state in the configured store (opened before this service starts);
        /// named brokers live in memory.
        /// </summary>
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            // Resolved now, not in the constructor: the store is opened by the storage service's own start.
            var store = services.GetRequiredService<IBrokerStore>();
            ISharedSessionStore? sharedSessions = null;
            if (services.GetService<ClusterNodeName>() is { } node && store is ISharedSessionStore shared
                && services.GetRequiredService<IOptions<StorageOptions>>().Value.Provider == StorageProvider.Postgres)
            {
                // A node of a cluster loads the sessions it owns; those of the other nodes come over when their clients connect here.
                shared.ActForNode(node.Name);
                sharedSessions = shared;
            }

            registry.Default.AttachStorage(services.GetRequiredService<StorageWriter>(), await store.LoadAsync(cancellationToken), sharedSessions);
            foreach (MqttBroker broker in registry.Brokers.Values)
            {
                broker.Start();
            }
        }

        public Task StoppingAsync(CancellationToken cancellationToken) => drain.DrainAsync("the host stops");

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
