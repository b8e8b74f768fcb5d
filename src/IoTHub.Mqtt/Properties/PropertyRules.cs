namespace IoTHub.Mqtt;

/// <summary>Type and permitted packets of every property, from the table in MQTT 5.0 §2.2.2.2.</summary>
public static class PropertyRules
{
    private const PropertyTargets Acks = PropertyTargets.PubAck | PropertyTargets.PubRec | PropertyTargets.PubRel
        | PropertyTargets.PubComp;

    private const PropertyTargets Message = PropertyTargets.Publish | PropertyTargets.Will;

    private const PropertyTargets Everywhere = PropertyTargets.Connect | PropertyTargets.ConnAck | Message | Acks
        | PropertyTargets.Subscribe | PropertyTargets.SubAck | PropertyTargets.Unsubscribe | PropertyTargets.UnsubAck
        | PropertyTargets.Disconnect | PropertyTargets.Auth;

    /// <summary>False for identifiers the specification does not define.</summary>
    public static bool TryGet(byte id, out PropertyType type, out PropertyTargets targets)
    {
        (type, targets) = (PropertyId)id switch
        {
            PropertyId.PayloadFormatIndicator => (PropertyType.Byte, Message),
            PropertyId.MessageExpiryInterval => (PropertyType.FourByteInteger, Message),
            PropertyId.ContentType => (PropertyType.Utf8String, Message),
            PropertyId.ResponseTopic => (PropertyType.Utf8String, Message),
            PropertyId.CorrelationData => (PropertyType.BinaryData, Message),
            PropertyId.SubscriptionIdentifier => (PropertyType.VariableByteInteger, PropertyTargets.Publish | PropertyTargets.Subscribe),
            PropertyId.SessionExpiryInterval => (PropertyType.FourByteInteger, PropertyTargets.Connect | PropertyTargets.ConnAck | PropertyTargets.Disconnect),
            PropertyId.AssignedClientIdentifier => (PropertyType.Utf8String, PropertyTargets.ConnAck),
            PropertyId.ServerKeepAlive => (PropertyType.TwoByteInteger, PropertyTargets.ConnAck),
            PropertyId.AuthenticationMethod => (PropertyType.Utf8String, PropertyTargets.Connect | PropertyTargets.ConnAck | PropertyTargets.Auth),
            PropertyId.AuthenticationData => (PropertyType.BinaryData, PropertyTargets.Connect | PropertyTargets.ConnAck | PropertyTargets.Auth),
            PropertyId.RequestProblemInformation => (PropertyType.Byte, PropertyTargets.Connect),
            PropertyId.WillDelayInterval => (PropertyType.FourByteInteger, PropertyTargets.Will),
            PropertyId.RequestResponseInformation => (PropertyType.Byte, PropertyTargets.Connect),
            PropertyId.ResponseInformation => (PropertyType.Utf8String, PropertyTargets.ConnAck),
            PropertyId.ServerReference => (PropertyType.Utf8String, PropertyTargets.ConnAck | PropertyTargets.Disconnect),
            PropertyId.ReasonString => (PropertyType.Utf8String, PropertyTargets.ConnAck | Acks | PropertyTargets.SubAck | PropertyTargets.UnsubAck | PropertyTargets.Disconnect | PropertyTargets.Auth),
            PropertyId.ReceiveMaximum => (PropertyType.TwoByteInteger, PropertyTargets.Connect | PropertyTargets.ConnAck),
            PropertyId.TopicAliasMaximum => (PropertyType.TwoByteInteger, PropertyTargets.Connect | PropertyTargets.ConnAck),
            PropertyId.TopicAlias => (PropertyType.TwoByteInteger, PropertyTargets.Publish),
            PropertyId.MaximumQoS => (PropertyType.Byte, PropertyTargets.ConnAck),
            PropertyId.RetainAvailable => (PropertyType.Byte, PropertyTargets.ConnAck),
            PropertyId.UserProperty => (PropertyType.Utf8StringPair, Everywhere),
            PropertyId.MaximumPacketSize => (PropertyType.FourByteInteger, PropertyTargets.Connect | PropertyTargets.ConnAck),
            PropertyId.WildcardSubscriptionAvailable => (PropertyType.Byte, PropertyTargets.ConnAck),
            PropertyId.SubscriptionIdentifierAvailable => (PropertyType.Byte, PropertyTargets.ConnAck),
            PropertyId.SharedSubscriptionAvailable => (PropertyType.Byte, PropertyTargets.ConnAck),
            _ => (PropertyType.Byte, PropertyTargets.None),
        };
        return targets != PropertyTargets.None;
    }

    /// <summary>
    /// User Property may always repeat; Subscription Identifier may repeat in PUBLISH only
    /// (§3.3.2.3.8). Every other property appearing twice is a Protocol Error.
    /// </summary>
    public static bool MayRepeat(PropertyId id, PropertyTargets target) =>
        id == PropertyId.UserProperty || (id == PropertyId.SubscriptionIdentifier && target == PropertyTargets.Publish);

    /// <summary>The property target of a packet type (the will's properties use <see cref="PropertyTargets.Will"/>).</summary>
    public static PropertyTargets TargetOf(PacketType type) => type switch
    {
        PacketType.Connect => PropertyTargets.Connect,
        PacketType.ConnAck => PropertyTargets.ConnAck,
        PacketType.Publish => PropertyTargets.Publish,
        PacketType.PubAck => PropertyTargets.PubAck,
        PacketType.PubRec => PropertyTargets.PubRec,
        PacketType.PubRel => PropertyTargets.PubRel,
        PacketType.PubComp => PropertyTargets.PubComp,
        PacketType.Subscribe => PropertyTargets.Subscribe,
        PacketType.SubAck => PropertyTargets.SubAck,
        PacketType.Unsubscribe => PropertyTargets.Unsubscribe,
        PacketType.UnsubAck => PropertyTargets.UnsubAck,
        PacketType.Disconnect => PropertyTargets.Disconnect,
        PacketType.Auth => PropertyTargets.Auth,
        _ => PropertyTargets.None,
    };
}
