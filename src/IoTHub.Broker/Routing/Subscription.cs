using IoTHub.Broker.Sessions;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Routing;

/// <summary>One session's subscription to one topic filter.</summary>
public sealed record Subscription(Session Session, string TopicFilter, SubscriptionOptions Options, uint SubscriptionId);
