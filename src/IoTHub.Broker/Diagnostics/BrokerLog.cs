using IoTHub.Mqtt;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Diagnostics;

/// <summary>Every log line of the engine, source-generated with fixed event ids.</summary>
internal static partial class BrokerLog
{
    [LoggerMessage(1000, LogLevel.Information, "Client {ClientId} connected from {Endpoint} (MQTT {Version}, clean start {CleanStart}, session present {SessionPresent}, keep-alive {KeepAlive} s)")]
    public static partial void ClientConnected(ILogger logger, string clientId, string endpoint, MqttProtocolVersion version, bool cleanStart, bool sessionPresent, ushort keepAlive);

    [LoggerMessage(1001, LogLevel.Information, "Client {ClientId} disconnected: {Reason}")]
    public static partial void ClientDisconnected(ILogger logger, string clientId, string reason);

    [LoggerMessage(1002, LogLevel.Warning, "Refused CONNECT from {Endpoint}, client id '{ClientId}', user '{UserName}': {ReasonCode} ({Reason})")]
    public static partial void ConnectRefused(ILogger logger, string endpoint, string clientId, string? userName, ReasonCode reasonCode, string reason);

    [LoggerMessage(1003, LogLevel.Warning, "{Count} more refused CONNECTs were not logged in the last period")]
    public static partial void ConnectRefusalsSuppressed(ILogger logger, long count);

    [LoggerMessage(1004, LogLevel.Warning, "Closing connection of client '{ClientId}' from {Endpoint}: {ReasonCode} ({Reason})")]
    public static partial void ProtocolViolation(ILogger logger, string clientId, string endpoint, ReasonCode reasonCode, string reason);

    [LoggerMessage(1005, LogLevel.Information, "Client {ClientId} taken over by a new connection from {Endpoint}")]
    public static partial void SessionTakenOver(ILogger logger, string clientId, string endpoint);

    [LoggerMessage(1023, LogLevel.Information, "Client {ClientId} from {Endpoint} taken over by a connection on another node of the cluster")]
    public static partial void SessionMovedAway(ILogger logger, string clientId, string endpoint);

    [LoggerMessage(1006, LogLevel.Information, "Client {ClientId} sent nothing for 1.5 times its keep-alive of {KeepAlive} s; closing")]
    public static partial void KeepAliveTimeout(ILogger logger, string clientId, ushort keepAlive);

    [LoggerMessage(1022, LogLevel.Information, "Client {ClientId}'s credentials expired at {ExpiresAt:O}; closing its connection")]
    public static partial void CredentialsExpired(ILogger logger, string clientId, DateTimeOffset expiresAt);

    [LoggerMessage(1007, LogLevel.Information, "Connection from {Endpoint} sent no CONNECT within {Timeout}; closing")]
    public static partial void ConnectTimeout(ILogger logger, string endpoint, TimeSpan timeout);

    [LoggerMessage(1008, LogLevel.Warning, "Client {ClientId} accepted no data for {Timeout} while messages waited; disconnecting it as stuck")]
    public static partial void StuckClient(ILogger logger, string clientId, TimeSpan timeout);

    [LoggerMessage(1009, LogLevel.Warning, "Queue of client {ClientId} is full ({Policy}); dropping messages, {Dropped} so far for this session (said at most once a minute)")]
    public static partial void QueueFull(ILogger logger, string clientId, QueueOverflowPolicy policy, long dropped);

    [LoggerMessage(1010, LogLevel.Warning, "Client {ClientId} may not publish to '{Topic}': {Reason}")]
    public static partial void PublishRefused(ILogger logger, string clientId, string topic, string reason);

    [LoggerMessage(1021, LogLevel.Warning, "{Count} more refused PUBLISHes were not logged in the last period")]
    public static partial void PublishRefusalsSuppressed(ILogger logger, long count);

    [LoggerMessage(1011, LogLevel.Information, "Session {ClientId} expired after being offline")]
    public static partial void SessionExpired(ILogger logger, string clientId);

    [LoggerMessage(1012, LogLevel.Debug, "Client {ClientId}: message to '{Topic}' of {Size} bytes exceeds the client's maximum packet size; not sent")]
    public static partial void PacketTooLargeForClient(ILogger logger, string clientId, string topic, int size);

    // Debug and without the exception: the storage writer logs the outage once, with its cause.
    [LoggerMessage(1014, LogLevel.Debug, "Storage failed while client '{ClientId}' waited for an acknowledgement ({Reason}); closing its connection without acknowledging")]
    public static partial void StorageFailed(ILogger logger, string clientId, string reason);

    // In the cluster's range (15xx): it happens only in a cluster.
    [LoggerMessage(1560, LogLevel.Debug, "Another node did not accept a message client '{ClientId}' published ({Reason}); closing its connection without acknowledging")]
    public static partial void ForwardNotAccepted(ILogger logger, string clientId, string reason);

    [LoggerMessage(1015, LogLevel.Error, "A round of the broker's monitor failed")]
    public static partial void MonitorFailed(ILogger logger, Exception exception);

    [LoggerMessage(1013, LogLevel.Error, "Connection of client '{ClientId}' failed")]
    public static partial void ConnectionFailed(ILogger logger, Exception exception, string clientId);

    [LoggerMessage(1016, LogLevel.Error, "A handler of the client connection event failed for client '{ClientId}'")]
    public static partial void ClientEventHandlerFailed(ILogger logger, Exception exception, string clientId);

    [LoggerMessage(1017, LogLevel.Error, "A watch of the topic filter '{Filter}' failed on a message")]
    public static partial void TopicWatchFailed(ILogger logger, Exception exception, string filter);
}
