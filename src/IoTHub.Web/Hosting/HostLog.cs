namespace IoTHub.Web.Hosting;

/// <summary>Host log messages. Event ids are fixed: 1000-1099.</summary>
internal static partial class HostLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "HTTP listening on {Url}")]
    public static partial void HttpListening(ILogger logger, string url);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning,
        Message = "HTTP on {Url} is plain HTTP beyond loopback: admin passwords, tokens and API keys cross the network in clear. Set Http:Certificate (and Http:CertificateKey) for HTTPS, unless a proxy in front of it does TLS")]
    public static partial void PlainHttpOnNetwork(ILogger logger, string url);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "MQTT listening on {Url} (broker '{Broker}')")]
    public static partial void MqttListening(ILogger logger, string url, string broker);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information,
        Message = "One CPU: MQTT connections are read and handled on the socket readiness thread, without a hand-off to the thread pool per read")]
    public static partial void MqttReadsInline(ILogger logger);
}
