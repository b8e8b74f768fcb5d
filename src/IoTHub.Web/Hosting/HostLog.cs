namespace IoTHub.Web.Hosting;

/// <summary>Host log messages. Event ids are fixed: 1000-1099.</summary>
internal static partial class HostLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "HTTP listening on {Address}")]
    public static partial void HttpListening(ILogger logger, string address);
}
