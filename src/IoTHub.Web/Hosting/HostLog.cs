namespace IoTHub.Web.Hosting;

/// <summary>Host log messages. Event ids are fixed: 1000-1099.</summary>
internal static partial class HostLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "HTTP listening on http://{Endpoint}")]
    public static partial void HttpListening(ILogger logger, System.Net.IPEndPoint endpoint);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "MQTT listening on {Endpoint} (broker '{Broker}')")]
    public static partial void MqttListening(ILogger logger, System.Net.EndPoint endpoint, string broker);
}
