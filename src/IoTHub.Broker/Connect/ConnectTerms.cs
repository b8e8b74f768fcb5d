using IoTHub.Mqtt;

namespace IoTHub.Broker.Connect;

/// <summary>
/// What an accepted CONNECT settles between the client and the broker (MQTT 5.0 §3.1.2, §3.2.2.3): the keep-alive,
/// the window of QoS 1/2 messages in flight to the client, the largest packet it takes, its topic alias maximum,
/// the session's expiry, and the CONNACK that announces the broker's side.
/// </summary>
internal sealed record ConnectTerms(ushort KeepAlive, int Window, long ClientMaximumPacketSize, ushort TopicAliasMaximum, uint SessionExpiryInterval,
    ConnAckPacket ConnAck)
{
    public static ConnectTerms Negotiate(BrokerOptions options, ConnectPacket connect, in AdmittedConnect admitted)
    {
        var v5 = connect.ProtocolVersion == MqttProtocolVersion.V500;
        var properties = connect.Properties;
        var clientId = admitted.ClientId;

        // [MQTT-3.2.2-21]: with Server Keep Alive the client uses the server's value: the configured one, or the
        // maximum for a client that asked for more.
        var serverKeepAlive = v5 && options.ServerKeepAlive > 0 ? options.ServerKeepAlive : v5 && admitted.KeepAliveTooLong ? options.MaximumKeepAlive : 0;

        // 3.1.1 Clean Session 0 keeps the session for a configured lifetime; 5.0 says how long itself.
        var expiry = v5
            ? properties?.SessionExpiryInterval ?? 0
            : connect.CleanStart ? 0 : (uint)Math.Min(uint.MaxValue - 1, options.PersistentSessionLifetime.TotalSeconds);

        var connAck = new ConnAckPacket { ReasonCode = ReasonCode.Success };
        if (v5)
        {
            connAck.Properties = new MqttProperties
            {
                AssignedClientIdentifier = admitted.Assigned ? clientId : null,
                MaximumPacketSize = (uint)options.MaximumPacketSize,
                ReceiveMaximum = (ushort)Math.Min(ushort.MaxValue, options.MaximumIncomingInflightMessages),
                RetainAvailable = options.RetainAvailable,
                WildcardSubscriptionAvailable = true,
                SubscriptionIdentifierAvailable = true,
                ServerKeepAlive = serverKeepAlive > 0 ? (ushort)serverKeepAlive : null,
                MaximumQoS = options.MaximumQoS < QualityOfService.ExactlyOnce ? (byte)options.MaximumQoS : null,
                ResponseInformation = properties?.RequestResponseInformation == true && options.ResponseInformation.Length > 0
                    ? options.ResponseInformation.Replace("{clientId}", clientId, StringComparison.Ordinal)
                    : null,
                TopicAliasMaximum = options.TopicAliasMaximum > 0 ? (ushort)Math.Min(ushort.MaxValue, options.TopicAliasMaximum) : null,
                SharedSubscriptionAvailable = true,
            };
        }

        return new ConnectTerms(
            KeepAlive: serverKeepAlive > 0 ? (ushort)serverKeepAlive : connect.KeepAlive,
            Window: Math.Min(options.MaximumInflightMessages, properties?.ReceiveMaximum ?? ushort.MaxValue),
            ClientMaximumPacketSize: properties?.MaximumPacketSize ?? long.MaxValue,
            TopicAliasMaximum: properties?.TopicAliasMaximum ?? 0,
            SessionExpiryInterval: expiry,
            ConnAck: connAck);
    }
}
