using IoTHub.Broker.Wills;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Connect;

/// <summary>
/// What the broker decides about a CONNECT before anyone else is asked: the client id (an empty one gets an
/// assigned id), whether the broker takes connections now, the connection limit, redirection, the keep-alive against <see cref="BrokerOptions.MaximumKeepAlive"/>,
/// and the will. The authenticator is asked only when this admits the CONNECT.
/// </summary>
internal sealed class ConnectAdmission(MqttBroker broker)
{
    /// <summary>MQTT 3.1 limits client ids to 23 characters (3.1 §3.1, Client Identifier).</summary>
    private const int Mqtt31MaximumClientIdLength = 23;

    private BrokerOptions Options => broker.Options;

    /// <summary>Admits <paramref name="connect"/> (null) or says why not; <paramref name="admitted"/> holds what it settled.</summary>
    public ConnectRefusal? Check(ConnectPacket connect, out AdmittedConnect admitted)
    {
        var version = connect.ProtocolVersion;
        var v5 = version == MqttProtocolVersion.V500;
        var clientId = connect.ClientId;
        admitted = new AdmittedConnect(clientId, Assigned: false, KeepAliveTooLong: false, Will: null);
        if (clientId.Length == 0)
        {
            // 3.1.1 [MQTT-3.1.3-8]: an empty id needs Clean Session 1; 5.0 [MQTT-3.1.3-6] always assigns one.
            // MQTT 3.1 has no empty client id at all.
            if (version == MqttProtocolVersion.V310 || (version == MqttProtocolVersion.V311 && !connect.CleanStart))
            {
                return new ConnectRefusal(ReasonCode.ClientIdentifierNotValid, "empty client id without a clean session");
            }

            clientId = broker.NewClientId();
            admitted = admitted with { ClientId = clientId, Assigned = true };
        }
        else if (version == MqttProtocolVersion.V310 && clientId.Length > Mqtt31MaximumClientIdLength)
        {
            return new ConnectRefusal(ReasonCode.ClientIdentifierNotValid, "MQTT 3.1 client id longer than 23 characters");
        }
        else if (MqttUtf8.ContainsControlCharacter(clientId))
        {
            // 5.0 §1.5.4 / 3.1.1 §1.5.3 allow refusing them; in a client id they only hide one client from another in logs.
            return new ConnectRefusal(ReasonCode.ClientIdentifierNotValid, "client id with a control character");
        }

        if (broker.NotServing is { } notServing)
        {
            return notServing;
        }

        if (broker.ConnectionCount > Options.MaximumConnections)
        {
            return new ConnectRefusal(v5 ? ReasonCode.ServerBusy : ReasonCode.ServerUnavailable, "connection limit reached");
        }

        if (Options.Redirect != ServerRedirect.None)
        {
            var redirect = Options.Redirect == ServerRedirect.ServerMoved ? ReasonCode.ServerMoved : ReasonCode.UseAnotherServer;
            return new ConnectRefusal(v5 ? redirect : ReasonCode.ServerUnavailable, "redirected to " + Options.ServerReference,
                Properties: v5 ? new MqttProperties { ServerReference = Options.ServerReference } : null);
        }

        // Keep-alive 0 means none, which is more than any maximum set below 65 535.
        var keepAliveTooLong = connect.KeepAlive > Options.MaximumKeepAlive || (connect.KeepAlive == 0 && Options.MaximumKeepAlive < ushort.MaxValue);
        if (keepAliveTooLong && !v5)
        {
            // 3.1.1 cannot tell the client another value: refused as Mosquitto's max_keepalive does.
            return new ConnectRefusal(ReasonCode.ClientIdentifierNotValid, "keep-alive above Mqtt:MaximumKeepAlive");
        }

        admitted = admitted with { KeepAliveTooLong = keepAliveTooLong };
        if (connect.Will is not { } will)
        {
            return null;
        }

        if (CheckWill(will, v5) is { } refusal)
        {
            return refusal;
        }

        // [MQTT-3.1.2-8]: published when the connection ends without a normal DISCONNECT.
        admitted = admitted with { Will = new Will(will, clientId) };
        return null;
    }

    private ConnectRefusal? CheckWill(WillMessage will, bool v5)
    {
        if (v5 && will.QualityOfService > Options.MaximumQoS)
        {
            // [MQTT-3.2.2-12]
            return new ConnectRefusal(ReasonCode.QoSNotSupported, "will QoS above the Maximum QoS");
        }

        if (v5 && will.Retain && !Options.RetainAvailable)
        {
            // [MQTT-3.2.2-13]
            return new ConnectRefusal(ReasonCode.RetainNotSupported, "retained will while Retain Available is 0");
        }

        var refusal = MqttUtf8.ContainsControlCharacter(will.Topic) ? "a control character (§1.5.4)" : broker.Topics.RefuseTopicName(will.Topic, fromClient: true);
        return refusal is not null
            ? new ConnectRefusal(v5 ? ReasonCode.TopicNameInvalid : ReasonCode.NotAuthorized, "will topic refused: " + refusal)
            : null;
    }
}

/// <summary>
/// What admission settled about a CONNECT: the client id to use, and the will to keep; then the user name the client
/// goes by (the CONNECT's, or its certificate's identity: <see cref="Connections.ConnectionInfo.UserName"/>).
/// </summary>
internal readonly record struct AdmittedConnect(string ClientId, bool Assigned, bool KeepAliveTooLong, Will? Will, string? UserName = null);

/// <summary>
/// Why a CONNECT is refused: the reason code (3.1.1 clients get it mapped to a return code), a reason for the log
/// and the 5.0 Reason String, and whether it counts as an authentication failure.
/// </summary>
internal sealed record ConnectRefusal(ReasonCode ReasonCode, string Reason, bool Authentication = false, MqttProperties? Properties = null)
{
    public static ConnectRefusal Stopping { get; } = new(ReasonCode.ServerUnavailable, "the broker is stopping");
}
