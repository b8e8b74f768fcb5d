using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Security;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Storage;
using IoTHub.Broker.Wills;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Connections;

/// <summary>CONNECT, PUBLISH, SUBSCRIBE and UNSUBSCRIBE handling.</summary>
internal sealed partial class MqttConnection
{
    /// <summary>MQTT 3.1 limits client ids to 23 characters (3.1 §3.1, Client Identifier).</summary>
    private const int Mqtt31MaximumClientIdLength = 23;

    private void HandleConnect(ConnectPacket connect)
    {
        _version = connect.ProtocolVersion;
        var clientId = connect.ClientId;
        var assigned = false;
        if (clientId.Length == 0)
        {
            // 3.1.1 [MQTT-3.1.3-8]: an empty id needs Clean Session 1; 5.0 [MQTT-3.1.3-6] always assigns one.
            // MQTT 3.1 has no empty client id at all.
            if (_version == MqttProtocolVersion.V310 || (_version == MqttProtocolVersion.V311 && !connect.CleanStart))
            {
                RefuseConnect(ReasonCode.ClientIdentifierNotValid, "empty client id without a clean session", clientId, connect.UserName);
                return;
            }

            clientId = _broker.NewClientId();
            assigned = true;
        }
        else if (_version == MqttProtocolVersion.V310 && clientId.Length > Mqtt31MaximumClientIdLength)
        {
            RefuseConnect(ReasonCode.ClientIdentifierNotValid, "MQTT 3.1 client id longer than 23 characters", clientId, connect.UserName);
            return;
        }

        if (_broker.State != BrokerState.Running)
        {
            RefuseConnect(ReasonCode.ServerUnavailable, "the broker is stopping", clientId, connect.UserName);
            return;
        }

        if (_broker.ConnectionCount > Options.MaximumConnections)
        {
            RefuseConnect(V5 ? ReasonCode.ServerBusy : ReasonCode.ServerUnavailable, "connection limit reached", clientId, connect.UserName);
            return;
        }

        if (V5 && connect.Properties?.AuthenticationMethod is not null)
        {
            // 5.0 §4.12: no enhanced authentication method is offered (yet), so any is refused.
            RefuseAuthentication(ReasonCode.BadAuthenticationMethod, "no authentication method is supported", clientId, connect.UserName);
            return;
        }

        if (Options.Redirect != ServerRedirect.None)
        {
            var redirect = Options.Redirect == ServerRedirect.ServerMoved ? ReasonCode.ServerMoved : ReasonCode.UseAnotherServer;
            RefuseConnect(V5 ? redirect : ReasonCode.ServerUnavailable, "redirected to " + Options.ServerReference, clientId, connect.UserName,
                V5 ? new MqttProperties { ServerReference = Options.ServerReference } : null);
            return;
        }

        // Keep-alive 0 means none, which is more than any maximum set below 65 535.
        var keepAliveTooLong = connect.KeepAlive > Options.MaximumKeepAlive
            || (connect.KeepAlive == 0 && Options.MaximumKeepAlive < ushort.MaxValue);
        if (keepAliveTooLong && !V5)
        {
            // 3.1.1 cannot tell the client another value: refused as Mosquitto's max_keepalive does.
            RefuseConnect(ReasonCode.ClientIdentifierNotValid, "keep-alive above Mqtt:MaximumKeepAlive", clientId, connect.UserName);
            return;
        }

        if (connect.Will is { } will && !TryAcceptWill(will, clientId, connect.UserName))
        {
            return;
        }

        // The authenticator's answer: at once (the common case), or later, when the read loop awaits it before it reads on.
        var request = new ConnectRequest(clientId, connect.UserName, connect.Password, _version, Info);
        ValueTask<ConnectDecision> decision;
        try
        {
            decision = _broker.Authenticator.AuthenticateAsync(request, _broker.Stopping);
        }
        catch (Exception ex)
        {
            decision = ValueTask.FromException<ConnectDecision>(ex);
        }

        if (decision.IsCompletedSuccessfully)
        {
            FinishConnect(connect, request, assigned, keepAliveTooLong, decision.Result);
            return;
        }

        _pendingConnect = new PendingConnect(connect, request, assigned, keepAliveTooLong, decision.AsTask());
    }

    /// <summary>Waits for the authenticator's answer to a CONNECT, within <see cref="BrokerOptions.AuthenticationTimeout"/>.</summary>
    private async Task FinishPendingConnectAsync()
    {
        var pending = _pendingConnect!;
        _pendingConnect = null;
        ConnectDecision decision;
        try
        {
            decision = await pending.Decision.WaitAsync(Options.AuthenticationTimeout, _broker.Time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            decision = ConnectDecision.Refuse(ReasonCode.ServerUnavailable, "no authentication decision within Mqtt:AuthenticationTimeout");
        }
        catch (Exception ex)
        {
            // Said in the (rate-limited) refusal line, without a stack trace: a backend that is down fails every CONNECT.
            decision = ConnectDecision.Refuse(ReasonCode.ServerUnavailable, "the authenticator failed: " + ex.Message);
        }

        if (!_closing)
        {
            FinishConnect(pending.Connect, pending.Request, pending.Assigned, pending.KeepAliveTooLong, decision);
        }
    }

    private void FinishConnect(ConnectPacket connect, ConnectRequest request, bool assigned, bool keepAliveTooLong, ConnectDecision decision)
    {
        var clientId = request.ClientId;
        if (!decision.Accepted)
        {
            var reason = decision.Reason ?? "refused by the authenticator";
            if (decision.ReasonCode == ReasonCode.ServerUnavailable)
            {
                RefuseConnect(decision.ReasonCode, reason, clientId, connect.UserName);
            }
            else
            {
                RefuseAuthentication(decision.ReasonCode, reason, clientId, connect.UserName);
            }

            return;
        }

        if (_broker.State != BrokerState.Running)
        {
            // It stopped while the authenticator was deciding.
            RefuseConnect(ReasonCode.ServerUnavailable, "the broker is stopping", clientId, connect.UserName);
            return;
        }

        var properties = connect.Properties;

        // [MQTT-3.2.2-21]: with Server Keep Alive the client uses the server's value: the configured one, or the
        // maximum for a client that asked for more.
        var serverKeepAlive = V5 && Options.ServerKeepAlive > 0 ? Options.ServerKeepAlive : V5 && keepAliveTooLong ? Options.MaximumKeepAlive : 0;
        _keepAlive = serverKeepAlive > 0 ? (ushort)serverKeepAlive : connect.KeepAlive;
        _window = Math.Min(Options.MaximumInflightMessages, properties?.ReceiveMaximum ?? ushort.MaxValue);
        _clientMaximumPacketSize = properties?.MaximumPacketSize ?? long.MaxValue;
        _outgoingAliases = properties?.TopicAliasMaximum is > 0 and var aliasMaximum ? new TopicAliases(aliasMaximum) : TopicAliases.None;
        ClientId = clientId;
        UserName = connect.UserName;

        // 3.1.1 Clean Session 0 keeps the session for a configured lifetime; 5.0 says how long itself.
        var expiry = V5
            ? properties?.SessionExpiryInterval ?? 0
            : connect.CleanStart ? 0 : (uint)Math.Min(uint.MaxValue - 1, Options.PersistentSessionLifetime.TotalSeconds);

        var connAck = new ConnAckPacket { ReasonCode = ReasonCode.Success };
        if (V5)
        {
            connAck.Properties = new MqttProperties
            {
                AssignedClientIdentifier = assigned ? clientId : null,
                MaximumPacketSize = (uint)Options.MaximumPacketSize,
                ReceiveMaximum = (ushort)Math.Min(ushort.MaxValue, Options.MaximumIncomingInflightMessages),
                RetainAvailable = Options.RetainAvailable,
                WildcardSubscriptionAvailable = true,
                SubscriptionIdentifierAvailable = true,
                ServerKeepAlive = serverKeepAlive > 0 ? (ushort)serverKeepAlive : null,
                MaximumQoS = Options.MaximumQoS < QualityOfService.ExactlyOnce ? (byte)Options.MaximumQoS : null,
                ResponseInformation = properties?.RequestResponseInformation == true && Options.ResponseInformation.Length > 0
                    ? Options.ResponseInformation.Replace("{clientId}", clientId, StringComparison.Ordinal)
                    : null,
                TopicAliasMaximum = Options.TopicAliasMaximum > 0 ? (ushort)Math.Min(ushort.MaxValue, Options.TopicAliasMaximum) : null,
                SharedSubscriptionAvailable = true,
            };
        }

        var sessionPresent = _broker.AttachSession(this, clientId, connect.CleanStart, expiry, connAck);
        EnsureWriteLoop();
        BrokerLog.ClientConnected(Logger, clientId, Endpoint, _version, connect.CleanStart, sessionPresent, _keepAlive);
    }

    /// <summary>
    /// Called by the broker while it binds this connection to its session, under the lock that also
    /// serialises takeovers: CONNACK is queued before anyone can take the session over, so a
    /// taken-over client always sees CONNACK first, then DISCONNECT.
    /// </summary>
    internal void Attached(Session session, bool sessionPresent, ConnAckPacket connAck)
    {
        _session = session;
        _redeliver = sessionPresent;
        connAck.SessionPresent = sessionPresent;
        EnqueueControl(Outbound.Packet(connAck));
    }

    /// <summary>Keeps the will ([MQTT-3.1.2-8]: published when the connection ends without a normal DISCONNECT).</summary>
    private bool TryAcceptWill(WillMessage will, string clientId, string? userName)
    {
        if (V5 && will.QualityOfService > Options.MaximumQoS)
        {
            // [MQTT-3.2.2-12]
            RefuseConnect(ReasonCode.QoSNotSupported, "will QoS above the Maximum QoS", clientId, userName);
            return false;
        }

        if (V5 && will.Retain && !Options.RetainAvailable)
        {
            // [MQTT-3.2.2-13]
            RefuseConnect(ReasonCode.RetainNotSupported, "retained will while Retain Available is 0", clientId, userName);
            return false;
        }

        if (CheckPublishTopic(will.Topic) is { } refusal)
        {
            RefuseConnect(V5 ? ReasonCode.TopicNameInvalid : ReasonCode.NotAuthorized, "will topic refused: " + refusal, clientId, userName);
            return false;
        }

        _will = new Will(will, clientId);
        return true;
    }

    /// <summary>
    /// A CONNECT refused for its credentials or authentication method: counted as an authentication
    /// failure. Authentication providers refuse through here (0x86, 0x87, 0x8C).
    /// </summary>
    private void RefuseAuthentication(ReasonCode reasonCode, string reason, string clientId, string? userName)
    {
        _broker.Statistics.AuthenticationFailed();
        RefuseConnect(reasonCode, reason, clientId, userName);
    }

    /// <summary>
    /// Answers CONNECT with a refusal (3.1.1 return codes are mapped from the reason) and closes. 5.0
    /// clients get the reason as a Reason String, which CONNACK may always carry (§3.2.2.3.7).
    /// </summary>
    private void RefuseConnect(ReasonCode reasonCode, string reason, string clientId, string? userName, MqttProperties? properties = null)
    {
        _broker.Statistics.ConnectionRefused();
        _broker.LogConnectRefused(Endpoint, clientId, userName, reasonCode, reason);
        if (_version == MqttProtocolVersion.Unknown)
        {
            // The CONNECT did not say which version it speaks: answer in 3.1.1 form, which every client reads.
            _version = MqttProtocolVersion.V311;
        }

        if (V5)
        {
            properties ??= new MqttProperties();
            properties.ReasonString = reason;
        }

        EnqueueControl(Outbound.Packet(new ConnAckPacket { ReasonCode = reasonCode, Properties = properties }));
        _lingerOnClose = true;
        Close(reasonCode, reason, sendDisconnect: false);
    }

    private void HandlePublish(in PublishPacket publish, long size)
    {
        if (V5 && publish.Summary.HasSubscriptionIdentifiers)
        {
            // [MQTT-3.3.4-6]
            throw new MqttProtocolException(ReasonCode.ProtocolError, "PUBLISH from a client with a Subscription Identifier");
        }

        if (V5 && publish.QualityOfService > Options.MaximumQoS)
        {
            // [MQTT-3.2.2-11]
            throw new MqttProtocolException(ReasonCode.QoSNotSupported, "PUBLISH above the Maximum QoS");
        }

        if (V5 && publish.Retain && !Options.RetainAvailable)
        {
            // [MQTT-3.2.2-14]
            throw new MqttProtocolException(ReasonCode.RetainNotSupported, "retained PUBLISH while Retain Available is 0");
        }

        var session = _session!;
        var qos = publish.QualityOfService;
        if (_broker.State != BrokerState.Running)
        {
            // Draining: nothing new is routed or acknowledged, so the publisher keeps the message and resends it;
            // a QoS 0 message is lost.
            if (qos == QualityOfService.AtMostOnce)
            {
                _broker.Statistics.MessagesDroppedAdd(DropReason.BrokerStopping);
            }

            return;
        }

        var topic = ResolveTopic(publish);
        var refusal = CheckPublishTopic(topic);
        if (refusal is not null)
        {
            _broker.LogPublishRefused(ClientId, topic, refusal);
            _broker.Statistics.MessagesDroppedAdd(DropReason.PublishRefused);

            // 3.1.1 has no negative acknowledgement: acknowledge and drop ([MQTT-3.3.5-2]); 5.0 says why.
            AcknowledgePublish(qos, publish.PacketId, V5 ? ReasonCode.TopicNameInvalid : ReasonCode.Success);
            return;
        }

        // Everything this PUBLISH makes the broker store (its QoS 2 id, queued copies for offline
        // sessions, a retained message) is committed before its PUBACK/PUBREC goes out.
        Persistence.BeginPacket();
        if (qos == QualityOfService.ExactlyOnce && !session.TryReceiveQos2(publish.PacketId, Options.MaximumIncomingInflightMessages, out var overLimit))
        {
            if (overLimit)
            {
                // 5.0 §4.9: more unreleased QoS 2 messages than the Receive Maximum we announced.
                throw new MqttProtocolException(ReasonCode.ReceiveMaximumExceeded, "too many QoS 2 messages awaiting PUBREL");
            }

            // [MQTT-4.3.3-10] a resent PUBLISH before PUBREL is not delivered again; PUBREC is repeated.
            AcknowledgePublish(qos, publish.PacketId, ReasonCode.Success);
            return;
        }

        _publishesReceived.Add(qos, size);
        var message = MqttMessage.FromPublish(publish, topic, ClientId, _broker.Time);
        if (publish.Retain && Options.RetainAvailable)
        {
            _broker.SetRetained(message);
        }

        _broker.Router.Route(message);
        AcknowledgePublish(qos, publish.PacketId, ReasonCode.Success, Persistence.EndPacket());
    }

    /// <summary>
    /// The PUBLISH's topic, through its Topic Alias when it has one (5.0 §3.3.2.3.4): a topic with an
    /// alias sets the alias; an empty topic uses it. An alias of 0 or above the announced maximum is
    /// refused with 0x94 [MQTT-3.3.2-9]; an unknown one is a protocol error.
    /// </summary>
    private string ResolveTopic(in PublishPacket publish)
    {
        var alias = publish.Summary.TopicAlias;
        if (alias == 0)
        {
            return publish.TopicString();
        }

        if (alias > Options.TopicAliasMaximum)
        {
            throw new MqttProtocolException(ReasonCode.TopicAliasInvalid, "Topic Alias above the Topic Alias Maximum");
        }

        _incomingAliases ??= new string?[Options.TopicAliasMaximum + 1];
        if (!publish.Topic.IsEmpty)
        {
            return _incomingAliases[alias] = publish.TopicString();
        }

        return _incomingAliases[alias] ?? throw new MqttProtocolException(ReasonCode.ProtocolError, "Topic Alias not set up before use");
    }

    private void AcknowledgePublish(QualityOfService qos, ushort packetId, ReasonCode reasonCode, Task? commit = null)
    {
        if (qos != QualityOfService.AtMostOnce)
        {
            EnqueueControl(Outbound.Ack(qos == QualityOfService.AtLeastOnce ? PacketType.PubAck : PacketType.PubRec, packetId, reasonCode, commit));
        }
    }

    /// <summary>Null when clients may publish to the topic; otherwise why not.</summary>
    private string? CheckPublishTopic(string topic) => _broker.Topics.RefuseTopicName(topic, fromClient: true);

    private void HandleSubscribe(SubscribePacket subscribe)
    {
        // 5.0 §3.8.2.1.2: one identifier for every filter of this SUBSCRIBE (the decoder refuses two).
        var subscriptionId = V5 && subscribe.Properties?.SubscriptionIdentifiers is [var id] ? id : 0;
        var session = _session!;
        var codes = new List<ReasonCode>(subscribe.Subscriptions.Count);
        var retained = new List<Delivery>();
        foreach (var (filter, options) in subscribe.Subscriptions)
        {
            // 3.1.1 sends retained messages on every SUBSCRIBE [MQTT-3.8.4-3]; 5.0 follows Retain Handling (§3.8.3.1).
            var requested = V5 ? options : options with { RetainHandling = RetainHandling.SendAtSubscribe };
            switch (_broker.Router.Subscribe(session, filter, requested, subscriptionId, retained, out var granted))
            {
                case SubscribeOutcome.InvalidFilter:
                    codes.Add(V5 ? ReasonCode.TopicFilterInvalid : ReasonCode.UnspecifiedError);
                    break;
                case SubscribeOutcome.QuotaExceeded:
                    codes.Add(V5 ? ReasonCode.QuotaExceeded : ReasonCode.UnspecifiedError);
                    break;
                case SubscribeOutcome.SessionEnded:
                    // The session was taken over with a clean start meanwhile: this connection is closing.
                    return;
                default:
                    codes.Add((ReasonCode)granted);
                    break;
            }
        }

        // SUBACK goes out before the retained messages it triggers.
        EnqueueControl(Outbound.Packet(new SubAckPacket { PacketId = subscribe.PacketId, ReasonCodes = codes }));
        foreach (var delivery in retained)
        {
            _broker.Router.Deliver(session, delivery);
        }
    }

    private void HandleUnsubscribe(UnsubscribePacket unsubscribe)
    {
        var session = _session!;
        var codes = new List<ReasonCode>(unsubscribe.TopicFilters.Count);
        foreach (var filter in unsubscribe.TopicFilters)
        {
            // Messages already in flight finish their QoS 1/2 flow: they belong to the session, not the subscription.
            var removed = _broker.Router.Unsubscribe(session, filter);
            codes.Add(removed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
        }

        // [MQTT-3.10.4-4] (3.1.1 [MQTT-3.10.4-4]): UNSUBACK even when nothing matched; 3.1.1 carries no codes.
        EnqueueControl(Outbound.Packet(new UnsubAckPacket { PacketId = unsubscribe.PacketId, ReasonCodes = V5 ? codes : [] }));
    }
}

/// <summary>A CONNECT whose authentication decision is still to come, with what its handling needs afterwards.</summary>
internal sealed record PendingConnect(ConnectPacket Connect, ConnectRequest Request, bool Assigned, bool KeepAliveTooLong, Task<ConnectDecision> Decision);
