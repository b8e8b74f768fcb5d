namespace IoTHub.Broker.Sessions;

internal enum EnqueueResult
{
    Queued,

    /// <summary>A QoS 0 message for an offline client, not queued by configuration.</summary>
    SkippedOffline,

    /// <summary>The session has ended (a race with its expiry or a clean start); nothing is queued.</summary>
    SessionEnded,

    /// <summary>The queue was full and the new message was dropped.</summary>
    DroppedNew,

    /// <summary>The queue was full; an older QoS 0 message was dropped to queue the new one.</summary>
    DroppedOldest,
}
