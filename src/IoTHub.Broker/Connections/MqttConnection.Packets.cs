using IoTHub.Broker.Connect;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Retained;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Storage;
using IoTHub.Broker.Wills;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Connections;

/// <summary>CONNECT (its admission and terms are decided in <c>Connect</c>), PUBLISH, SUBSCRIBE and UNSUBSCRIBE handling.</summary>
internal sealed partial class MqttConnection
{
    private const string NotAuthorizedToPublish = "not authorized to publish to this topic";

    private void HandleConnect(ConnectPacket connect)
    {
        _version = connect.ProtocolVersion;
        _connectArrived = BrokerTracing.ConnectArrived(_broker.Time);
        if (_broker.Admission.Check(connect, out var admitted) is { } refusal)
        {
            RefuseConnect(refusal, admitted.ClientId, connect.UserName);
            return;
        }

        _will = admitted.Will;
        admitted = admitted with { UserName = Info.UserName(connect.UserName) };
        var request = new ConnectRequest(admitted.ClientId, admitted.UserName, connect.Password, _version, Info);
        if (V5 && connect.Properties?.AuthenticationMethod is { } method)
        {
            // 5.0 §4.12: the authenticator that takes the method leads an AUTH exchange, or it is refused (0x8C).
            _exchange = new AuthenticationExchange(method, reauthentication: false) { Data = connect.Properties.AuthenticationData };
            _exchangeConnect = (connect, admitted);
            request = request with { Authentication = _exchange };
        }

        Authenticate(request, connect, admitted);
    }

    /// <summary>
    /// Asks the authenticator about a CONNECT (<paramref name="connect"/>) or a step of a re-authentication (null); its
    /// answer comes at once (the common case) or later, when the read loop awaits it before it reads on.
    /// </summary>
    private void Authenticate(ConnectRequest request, ConnectPacket? connect, in AdmittedConnect admitted)
    {
        ValueTask<ConnectDecision> decision;
        try
        {
            decision = _broker.Authenticator.AuthenticateAsync(request, _broker.Stopping);
        }
        catch (Exception ex)
        {
            decision = ValueTask.FromException<ConnectDecision>(ex);
        }

        if (connect is not null && _broker.SessionOwners is not null)
        {
            // In a cluster an accepted CONNECT claims its client id across the nodes first, awaited like a slow authenticator.
            _pendingConnect = new PendingConnect(connect, admitted, _broker.ClaimSessionAsync(decision.AsTask(), this, admitted.ClientId, connect.CleanStart),
                _broker.Time.GetTimestamp());
            return;
        }

        if (decision.IsCompletedSuccessfully)
        {
            Decided(connect, admitted, decision.Result);
            return;
        }

        _pendingConnect = new PendingConnect(connect, admitted, decision.AsTask(), _broker.Time.GetTimestamp());
    }

    private void Decided(ConnectPacket? connect, in AdmittedConnect admitted, ConnectDecision decision)
    {
        if (connect is null)
        {
            FinishReauthentication(decision);
        }
        else
        {
            FinishConnect(connect, admitted, decision);
        }
    }

    /// <summary>
    /// Waits for the authenticator's answer to a CONNECT, within <see cref="BrokerOptions.AuthenticationTimeout"/> from
    /// the CONNECT's arrival; a close of the connection (takeover, shutdown, stuck) ends the wait at once.
    /// </summary>
    private async Task FinishPendingConnectAsync()
    {
        var pending = _pendingConnect!;
        _pendingConnect = null;
        TaskCompletionSource closed;
        lock (ControlLock)
        {
            if (_closing)
            {
                return;
            }

            closed = _connectClosed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        ConnectDecision decision;
        try
        {
            var left = Options.AuthenticationTimeout - _broker.Time.GetElapsedTime(pending.ReceivedAt);
            var answer = pending.Decision.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, _broker.Time);
            if (await Task.WhenAny(answer, closed.Task).ConfigureAwait(false) != answer)
            {
                // Closed while waiting: nothing to answer. A late failure of the answer is observed, not thrown.
                _ = answer.ContinueWith(static task => task.Exception, CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                return;
            }

            decision = await answer.ConfigureAwait(false);
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
        finally
        {
            lock (ControlLock)
            {
                _connectClosed = null;
            }
        }

        if (!_closing)
        {
            Decided(pending.Connect, pending.Admitted, decision);
        }
    }

    private void FinishConnect(ConnectPacket connect, in AdmittedConnect admitted, ConnectDecision decision)
    {
        var clientId = admitted.ClientId;
        if (decision.Continues && _exchange is { } exchange)
        {
            // [MQTT-4.12.0-2] the server needs more: AUTH 0x18; the client answers with AUTH 0x18 [MQTT-4.12.0-3].
            SendAuth(ReasonCode.ContinueAuthentication, exchange.Method, decision.AuthenticationData);
            return;
        }

        if (!decision.Accepted)
        {
            // A backend that cannot decide is the server's trouble, not the client's credentials.
            var reason = decision.Reason ?? "refused by the authenticator";
            RefuseConnect(new ConnectRefusal(decision.ReasonCode, reason, Authentication: decision.ReasonCode != ReasonCode.ServerUnavailable),
                clientId, admitted.UserName);
            return;
        }

        if (_broker.NotServing is { } notServing)
        {
            // It stopped (serving) while the authenticator was deciding.
            RefuseConnect(notServing, clientId, admitted.UserName);
            return;
        }

        var terms = ConnectTerms.Negotiate(Options, connect, admitted);
        _keepAlive = terms.KeepAlive;
        CleanStart = connect.CleanStart;
        _window = terms.Window;
        _clientMaximumPacketSize = terms.ClientMaximumPacketSize;
        _outgoingAliases = terms.TopicAliasMaximum > 0 ? new TopicAliases(terms.TopicAliasMaximum) : TopicAliases.None;
        ClientId = clientId;
        UserName = decision.UserName ?? admitted.UserName;
        AuthenticatedBy = decision.Method;
        Access = _broker.AccessFor(admitted.UserName, clientId, Info, decision.Rights);
        CredentialsExpireAt = decision.Rights?.ExpiresAt;
        if (_exchange is { } finished)
        {
            // [MQTT-4.12.0-5] a successful CONNACK names the method of CONNECT; its data ends the exchange (SCRAM's server-final).
            terms.ConnAck.Properties!.AuthenticationMethod = finished.Method;
            terms.ConnAck.Properties.AuthenticationData = decision.AuthenticationData;
            _authenticationMethod = finished.Method;
            _exchange = null;
            _exchangeConnect = null;
        }

        if (_broker.AttachSession(this, clientId, connect.CleanStart, terms.SessionExpiryInterval, terms.ConnAck) is not { } sessionPresent)
        {
            RefuseConnect(new ConnectRefusal(ReasonCode.ServerUnavailable, "another node of the cluster took the client id over meanwhile"), clientId,
                admitted.UserName);
            return;
        }

        if (sessionPresent)
        {
            // The resumed session's subscriptions were allowed for its last client, maybe under other rules or another user.
            _broker.RevokeDenied(_session!);
        }

        StartWrites();
        TraceConnect(clientId, ReasonCode.Success, reason: null);
        BrokerLog.ClientConnected(Logger, clientId, Endpoint, _version, connect.CleanStart, sessionPresent, _keepAlive);
    }

    /// <summary>
    /// Called by the broker while it binds this connection to its session, under the lock that also
    /// serialises takeovers: CONNACK is queued before anyone can take the session over, so a
    /// taken-over client always sees CONNACK first, then DISCONNECT.
    /// </summary>
    internal void Attached(Session session, bool sessionPresent, ConnAckPacket connAck)
    {
        ConnectedAt = _broker.Time.GetUtcNow();
        _session = session;
        _redeliver = sessionPresent;
        connAck.SessionPresent = sessionPresent;
        EnqueueControl(Outbound.Packet(connAck));
    }

    /// <summary>
    /// Answers CONNECT with a refusal (3.1.1 return codes are mapped from the reason) and closes. 5.0
    /// clients get the reason as a Reason String, which CONNACK may always carry (§3.2.2.3.7).
    /// </summary>
    private void RefuseConnect(ConnectRefusal refusal, string clientId, string? userName)
    {
        if (refusal.Authentication)
        {
            // Authentication providers refuse through here (0x86, 0x87, 0x8C).
            _broker.Statistics.AuthenticationFailed();
        }

        var (reasonCode, reason) = (refusal.ReasonCode, refusal.Reason);
        _broker.Statistics.ConnectionRefused();
        _broker.LogConnectRefused(Endpoint, clientId, userName, reasonCode, reason, refusal.Authentication);
        if (_version == MqttProtocolVersion.Unknown)
        {
            // The CONNECT did not say which version it speaks: answer in 3.1.1 form, which every client reads.
            _version = MqttProtocolVersion.V311;
        }

        var properties = refusal.Properties;
        if (V5)
        {
            properties ??= new MqttProperties();
            properties.ReasonString = reason;
        }

        EnqueueControl(Outbound.Packet(new ConnAckPacket { ReasonCode = reasonCode, Properties = properties }));
        TraceConnect(clientId, reasonCode, reason);
        _lingerOnClose = true;

        // Not counted as a close: the CONNECT was not accepted (connections refused are counted as such).
        Close(reasonCode, reason, ConnectionCloseReason.Other, sendDisconnect: false);
    }

    private void TraceConnect(string clientId, ReasonCode reasonCode, string? reason)
    {
        BrokerTracing.ConnectDecided(_connectArrived, _broker.Time, _broker.Name, Info.Listener, clientId, _version, reasonCode, reason);
        _connectArrived = 0;
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
            DropRefusedPublish(topic, refusal);

            // 3.1.1 has no negative acknowledgement: acknowledge and drop ([MQTT-3.3.5-2]); 5.0 says why.
            AcknowledgePublish(qos, publish.PacketId, V5 ? ReasonCode.TopicNameInvalid : ReasonCode.Success);
            return;
        }

        if (Access is { } access && !access.MayPublish(topic))
        {
            RefusePublish(qos, publish.PacketId, topic, access);
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

            // [MQTT-4.3.3-10] a resent PUBLISH before PUBREL is not delivered again; PUBREC is repeated, once what the first one waited
            // for (held when the connection closed before it went out) succeeded.
            var first = session.TakeQos2Acknowledgement(publish.PacketId);
            if (first is null || !ForgetsPacketId(first))
            {
                AcknowledgePublish(qos, publish.PacketId, ReasonCode.Success, first is { IsCompleted: false } ? first : null);
                return;
            }

            // The first copy is on no disk and at no node (its storage failed, or no node took it): routed afresh.
            session.ReleaseReceivedQos2(publish.PacketId);
            session.TryReceiveQos2(publish.PacketId, Options.MaximumIncomingInflightMessages, out _);
        }

        t_publishesReceived.Add(qos, size);
        var message = MqttMessage.FromPublish(publish, topic, ClientId, _broker.Time);
        if (publish.Retain && Options.RetainAvailable)
        {
            _broker.SetRetained(message, UserName);
        }

        // 5.0 §3.4.2.1: 0x10 when no session took the message (a retained one is kept all the same); 3.1.1 has no such code.
        var reached = _broker.Router.Route(message);
        AcknowledgePublish(qos, publish.PacketId, reached == 0 && V5 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success, Persistence.EndPacket());
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

    /// <summary>A PUBLISH refused by a topic rule or the access rules: logged, and counted for the broker and for the client's session.</summary>
    private void DropRefusedPublish(string topic, string reason)
    {
        _broker.LogPublishRefused(ClientId, topic, reason);
        _broker.Statistics.MessagesDroppedAdd(DropReason.PublishRefused);
        _session!.Counters.Drop(DropReason.PublishRefused);
    }

    private void AcknowledgePublish(QualityOfService qos, ushort packetId, ReasonCode reasonCode, Task? commit = null)
    {
        if (qos != QualityOfService.AtMostOnce)
        {
            EnqueueControl(Outbound.Ack(qos == QualityOfService.AtLeastOnce ? PacketType.PubAck : PacketType.PubRec, packetId, reasonCode, commit));
        }
    }

    /// <summary>
    /// A PUBLISH the access rules refuse is dropped. 5.0 clients get PUBACK/PUBREC 0x87 Not authorized (§3.4.2.1), which
    /// ends a QoS 2 flow; 3.1.1 has no negative acknowledgement, so QoS 1/2 are acknowledged as usual, as Mosquitto does
    /// ([MQTT-3.3.5-2]: acknowledge or close). Security:DenyAction=Disconnect closes instead (5.0: DISCONNECT 0x87).
    /// </summary>
    private void RefusePublish(QualityOfService qos, ushort packetId, string topic, AclClient access)
    {
        DropRefusedPublish(topic, NotAuthorizedToPublish);
        if (access.DisconnectOnDeny)
        {
            Close(ReasonCode.NotAuthorized, NotAuthorizedToPublish, ConnectionCloseReason.NotAuthorized);
            return;
        }

        AcknowledgePublish(qos, packetId, V5 ? ReasonCode.NotAuthorized : ReasonCode.Success);
    }

    /// <summary>The will, unless the access rules in force when the connection ends refuse its topic: a refused will is not published.</summary>
    internal Will? AuthorizedWill()
    {
        if (_will is { } will && Access is { } access && !access.MayPublish(will.Topic))
        {
            _broker.LogPublishRefused(ClientId, will.Topic, "the will is " + NotAuthorizedToPublish);
            return null;
        }

        return _will;
    }

    /// <summary>Null when clients may publish to the topic; otherwise why not.</summary>
    private string? CheckPublishTopic(string topic) => _broker.Topics.RefuseTopicName(topic, fromClient: true);

    private void HandleSubscribe(SubscribePacket subscribe)
    {
        // 5.0 §3.8.2.1.2: one identifier for every filter of this SUBSCRIBE (the decoder refuses two).
        var subscriptionId = V5 && subscribe.Properties?.SubscriptionIdentifiers is [var id] ? id : 0;
        var session = _session!;
        var codes = new List<ReasonCode>(subscribe.Subscriptions.Count);
        var retained = new List<RetainedFeed>();

        // Strict durability: SUBACK goes once the subscriptions are stored, so that a node that dies or freezes right after it (in a cluster,
        // a survivor or the client's next node reads the session from the store) or a restart does not lose what was acknowledged.
        Persistence.BeginPacket();
        foreach (var (filter, options) in subscribe.Subscriptions)
        {
            // 3.1.1 sends retained messages on every SUBSCRIBE [MQTT-3.8.4-3]; 5.0 follows Retain Handling (§3.8.3.1).
            var requested = V5 ? options : options with { RetainHandling = RetainHandling.SendAtSubscribe };
            switch (_broker.Router.Subscribe(session, filter, requested, subscriptionId, retained, out var granted, Access))
            {
                case SubscribeOutcome.NotAuthorized when Access!.DisconnectOnDeny:
                    Close(ReasonCode.NotAuthorized, "not authorized to subscribe to " + filter, ConnectionCloseReason.NotAuthorized);
                    return;
                case SubscribeOutcome.NotAuthorized:
                    // 5.0 §3.9.3: 0x87 (or 0x80, as configured) for this filter alone; 3.1.1 has only 0x80 Failure [MQTT-3.9.3-2].
                    codes.Add(V5 ? Access!.SubscribeRefusal : ReasonCode.UnspecifiedError);
                    break;
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
        EnqueueControl(Outbound.Packet(new SubAckPacket { PacketId = subscribe.PacketId, ReasonCodes = codes }, Persistence.EndPacket()));
        foreach (var feed in retained)
        {
            session.Feed(feed, Options.RetainedDeliveryBatch);
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

/// <summary>
/// A CONNECT whose authentication decision is still to come, with what admission settled about it; without a CONNECT,
/// a step of a re-authentication.
/// </summary>
internal sealed record PendingConnect(ConnectPacket? Connect, AdmittedConnect Admitted, Task<ConnectDecision> Decision, long ReceivedAt);
