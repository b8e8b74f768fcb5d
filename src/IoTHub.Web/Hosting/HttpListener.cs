using IoTHub.Web.Configuration;
using IoTHub.Web.Transports.Sockets;
using IoTHub.Web.Transports.Tls;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Hosting;

/// <summary>
/// Binds Kestrel to the "Http" section, over HTTPS when it names a certificate, and logs the address it really got (port 0
/// included) and every MQTT listener's URL, in place of the web host's lines that call them all http://
/// (<see cref="KestrelAddressLogFilter"/>). The MQTT over WebSocket path it serves ("Http:MqttPath") is registered as a
/// listener of the default broker.
/// </summary>
internal static class HttpListener
{
    /// <summary>Kestrel's own default for HTTPS handshakes.</summary>
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    public static IServiceCollection AddHttpListener(this IServiceCollection services)
    {
        services.AddSingleton<BoundListeners>();
        services.AddSingleton<TlsIdleBuffers>();
        services.AddOptions<KestrelServerOptions>()
            .Configure<SectionBinding<HttpOptions>, SectionBinding<MqttOptions>, BoundListeners, IServiceProvider>(static (kestrel, binding, mqtt, listeners, provider) =>
            {
                HttpOptions http = binding.ReadUnvalidated();
                kestrel.Listen(http.Address, http.Port, listen =>
                {
                    ServerCertificates? certificates = null;
                    MqttListenerUrl? webSocket = http.MqttListener(mqtt.ReadUnvalidated().TrustedProxies);

                    // Without TLS Kestrel cannot tell HTTP/2 from HTTP/1.1, and browsers speak HTTP/2 only over TLS.
                    listen.Protocols = http.Tls is null ? HttpProtocols.Http1 : HttpProtocols.Http1AndHttp2;
                    if (http.Tls is { } tls)
                    {
                        certificates = new ServerCertificates(tls, TlsTransport.ApplicationProtocols(listen.Protocols),
                            provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<ServerCertificates>>());
                        listen.UseTls(certificates, HandshakeTimeout);
                    }

                    listeners.AddHttp(listen, http.Scheme, certificates);
                    if (webSocket is not null)
                    {
                        listeners.AddMqtt(MqttOptions.DefaultBrokerName, webSocket, listen, certificates, onHttpEndpoint: true);
                    }
                });
            });
        services.AddHostedService<ListeningAddressLogger>();
        services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(static provider => new KestrelAddressLogFilter(new LoggerFactory(
            provider.GetServices<ILoggerProvider>(), provider.GetRequiredService<IOptionsMonitor<LoggerFilterOptions>>(),
            provider.GetService<IOptions<LoggerFactoryOptions>>(), provider.GetService<IExternalScopeProvider>()))));
        return services;
    }

    private sealed class ListeningAddressLogger(BoundListeners listeners, ILogger<ListeningAddressLogger> logger) : IHostedLifecycleService
    {
        // Runs once every hosted service, the web server included, has started.
        public Task StartedAsync(CancellationToken cancellationToken)
        {
            foreach (var http in listeners.Http)
            {
                HostLog.HttpListening(logger, http.Url);
                if (http.Certificates is null && !MqttListenerUrl.IsLoopbackAddress(http.Endpoint.Address))
                {
                    HostLog.PlainHttpOnNetwork(logger, http.Url);
                }
            }

            // The HTTP endpoint's MQTT over WebSocket path is named by the line above.
            foreach (var listener in listeners.Mqtt.Where(static l => !l.OnHttpEndpoint))
            {
                HostLog.MqttListening(logger, listener.Url, listener.Broker);
            }

            if (ReadinessPoll.Inline && SocketCalls.Poll is not null && listeners.Mqtt.Any(static l => !l.OnHttpEndpoint))
            {
                HostLog.MqttReadsInline(logger);
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
