namespace IoTHub.Mqtt;

/// <summary>
/// The PUBLISH properties the engine acts on, read while a property block is validated, so that the
/// block itself can stay raw bytes and be forwarded untouched.
/// </summary>
public readonly record struct PublishPropertySummary(
    ushort TopicAlias,
    uint? MessageExpiryInterval,
    byte PayloadFormatIndicator,
    bool HasSubscriptionIdentifiers);
