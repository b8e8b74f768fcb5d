using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using IoTHub.Broker.Connect;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Wills;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Storage;
using IoTHub.Mqtt;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Connections;

/// <summary>
/// One client connection: a read loop that decodes and handles packets without ever awaiting another
/// client, and one write loop that drains control packets first, then the session's messages, into
/// the pipe, flushing once per batch (DESIGN §2).
/// </summary>
internal sealed partial class MqttConnection : IThreadPoolWorkItem
{
    // The write rounds' states (_writeState): none runs and a signal starts one; one runs or is queued; it runs and was
    // signalled since it last looked; no round runs again (closed). Before CONNECT, signals only leave work waiting.
    private const int WritesIdle = 0;
    private const int WritesBusy = 1;
    private const int WritesAgain = 2;
    private const int WritesEnded = 3;
    private const int WritesNotStarted = 4;

    /// <summary>The batch of a connection between rounds: empty, never written to.</summary>
    private static readonly List<Outbound> NoBatch = [];

    private static readonly TimeSpan CloseFlushTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How long a closing connection that told the client why keeps reading while the client goes on sending.</summary>
    private static readonly TimeSpan LingerLimit = TimeSpan.FromSeconds(2);

    /// <summary>A closing connection stops lingering once the client has sent nothing for this long.</summary>
    private static readonly TimeSpan LingerQuietTime = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Packets handled per read before the loop gives its thread to other work. Unbounded, one read of a flooding
    /// client held up to Kestrel's 1 MB buffer (12 000 small publishes), routed in one go into subscriber queues of
    /// 1 000 while their write loops waited: on one saturated core, publishes were read at 700 000 msgs/s and
    /// delivered at 50 000. With turns, ingest and delivery alternate, delivery stays at capacity, and what is not
    /// read yet fills Kestrel's buffer and holds the client back through TCP, as a single-threaded broker does.
    /// </summary>
    private const int PacketsPerTurn = 256;

    /// <summary>Queued messages taken from the session per turn of its lock.</summary>
    private const int CollectTurn = 64;

    /// <summary>Queued messages written per batch (one flush) at most; more wait for the next round.</summary>
    private const int MaximumBatch = 1024;

    private readonly MqttBroker _broker;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;

    // Control packets waiting for the next write round, and the round's batch: both are taken from a per-thread
    // cache when there is something to write and given back when the connection has nothing more, so an idle
    // connection holds neither (and a connection that was busy once does not keep a batch grown to a thousand items).
    private Queue<Outbound>? _control;
    private List<Outbound> _batch = NoBatch;

    /// <summary>Guards the control queue and the start and end of write rounds: the connection itself (see <see cref="Session.Sync"/>).</summary>
    private object ControlLock => this;
    private int _writeState = WritesNotStarted;
    private TaskCompletionSource? _writesEnded;
    private Session? _session;
    private MqttProtocolVersion _version;

    /// <summary>When the CONNECT being decided arrived (a timestamp), while a tracer listens (<see cref="BrokerTracing"/>); else 0.</summary>
    private long _connectArrived;
    private ushort _keepAlive;
    private int _window;
    private long _clientMaximumPacketSize = long.MaxValue;
    private bool _redeliver;
    private volatile bool _closing;
    private bool _lingerOnClose;
    private string _closeReason = "connection closed by the client";
    private ConnectionCloseReason _closeCause = ConnectionCloseReason.Network;
    private long _lastPacketAt;
    private long _flushStartedAt;
    private Will? _will;
    private PendingConnect? _pendingConnect;
    private TaskCompletionSource? _connectClosed;
    private string?[]? _incomingAliases;
    private TopicAliases _outgoingAliases = TopicAliases.None;

    // Only 5.0 deliveries that add properties use it, so it is made on first use, not per connection.
    private byte[] _propertyScratch = [];

    /// <summary>
    /// The PUBLISH packets of the read being handled, by QoS, added to the statistics at its end. Reads are handled
    /// synchronously, one at a time per thread, so one tally per thread serves every connection: a field would cost
    /// each connection 48 B.
    /// </summary>
    [ThreadStatic]
    private static QosTally t_publishesReceived;

    /// <summary>The connection whose read this thread is handling, if any: its signals wait for the read's end.</summary>
    [ThreadStatic]
    private static MqttConnection? t_reading;

    /// <summary>Its read loop asked to write during the read being handled (read loop only).</summary>
    private bool _writeAfterRead;

    public MqttConnection(MqttBroker broker, IDuplexPipe transport, ConnectionInfo info)
    {
        _broker = broker;
        _input = transport.Input;
        _output = transport.Output;
        Info = info;
        AcceptedAt = broker.Time.GetTimestamp();
        _lastPacketAt = AcceptedAt;
    }

    /// <summary>How the client came in.</summary>
    public ConnectionInfo Info { get; }

    /// <summary>
    /// The broker's set of connections hashes every connection. The identity hash of the connection itself would be kept
    /// in its object header, where its lock (<see cref="ControlLock"/>) is kept too, and an object that needs both gets a
    /// sync block: one more runtime allocation per connection, under a process-wide lock, cleaned up after it dies
    /// (issue 19). Its <see cref="Info"/>, made for it alone by the host and never locked, carries the identity hash
    /// instead, with the time it was accepted for connections that share one (the engine's tests); equality stays identity.
    /// </summary>
    public override int GetHashCode() => HashCode.Combine(RuntimeHelpers.GetHashCode(Info), AcceptedAt);

    public string Endpoint => Info.Endpoint;

    /// <summary>The listener that accepted the connection.</summary>
    public string Listener => Info.Listener;

    public string ClientId { get; private set; } = string.Empty;

    /// <summary>The user name the client sent in CONNECT, if any; set once CONNECT was accepted.</summary>
    public string? UserName { get; private set; }

    /// <summary>The authenticator that checked <see cref="UserName"/>'s password (its method); null when none did.</summary>
    public string? AuthenticatedBy { get; private set; }

    public long AcceptedAt { get; }

    /// <summary>When CONNECT was accepted (the broker's clock); set once, before the connection is attached to its session.</summary>
    public DateTimeOffset ConnectedAt { get; private set; }

    public bool IsConnected => _session is not null;

    internal Session? Session => _session;

    /// <summary>What the client may publish and subscribe to; null when the broker has no authorizer.</summary>
    internal AclClient? Access { get; private set; }

    /// <summary>
    /// When the credentials the client connected with expire (<see cref="Security.ClientRights.ExpiresAt"/>, a token's
    /// <c>exp</c>): the timer sweep closes the connection then; null: never. Set once CONNECT was accepted.
    /// </summary>
    public DateTimeOffset? CredentialsExpireAt { get; private set; }

    /// <summary>True once the connection is ending (closed by either side); it takes no more packets.</summary>
    public bool IsClosing => _closing;

    /// <summary>Why the connection ends, once it does (the same words as the log's "client disconnected" line).</summary>
    public string CloseReason => _closeReason;

    public MqttProtocolVersion Version => _version;

    /// <summary>The Keep Alive in seconds the connection goes by (CONNACK's Server Keep Alive when the broker set one); set once CONNECT was accepted.</summary>
    public ushort KeepAlive => _keepAlive;

    /// <summary>The Clean Start (3.1.1: Clean Session) flag of its CONNECT; set once CONNECT was accepted.</summary>
    public bool CleanStart { get; private set; }

    /// <summary>In a cluster, the claim of its client id its session attaches under (see <see cref="Ownership.ISessionOwners"/>); 0 without.</summary>
    internal long SessionClaim { get; set; }

    /// <summary>Whether this connection's will is in the store the nodes of the cluster share (under <see cref="SessionClaim"/>), to delete as it ends.</summary>
    internal bool WillStored { get; set; }

    /// <summary>The will it published on an abnormal end; null when it sent none or a normal DISCONNECT deleted it.</summary>
    internal Will? Will => _will;

    /// <summary>True while the session has messages queued or QoS 1/2 flows open on this connection.</summary>
    public bool HasUndelivered => _session is { } session && !_closing && (session.QueuedMessages > 0 || session.InflightMessages > 0);

    private BrokerOptions Options => _broker.Options;

    private ILogger Logger => _broker.Logger;

    private bool V5 => _version == MqttProtocolVersion.V500;

    /// <summary>
    /// Serves the connection until it ends: the read loop runs in this method itself, not in an awaited one, as each
    /// pending async method keeps a state-machine box alive on every idle connection. The box holds every local that
    /// lives across an await and one awaiter per awaited type, so reads are handled in <see cref="HandleRead"/> straight
    /// from the awaited result and the close is another method, whose box exists only while a connection ends.
    /// </summary>
    public async Task RunAsync()
    {
        try
        {
            while (!_closing)
            {
                if (DataWaiting())
                {
                    // This client sends faster than the broker routes (see PacketsPerTurn): the write rounds this loop
                    // woke run before it takes more.
                    await Task.Yield();
                }

                var ended = HandleRead(await _input.ReadAsync().ConfigureAwait(false));
                if (_pendingConnect is not null)
                {
                    // Nothing after CONNECT is read before its decision: later packets stay in the pipe.
                    await FinishPendingConnectAsync().ConfigureAwait(false);
                }

                if (ended)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            EndedBy("network connection lost", ConnectionCloseReason.Network);
        }
        catch (Exception ex)
        {
            BrokerLog.ConnectionFailed(Logger, ex, ClientId);
            EndedBy("internal error", ConnectionCloseReason.Other);
        }

        await EndAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// True when a read would return data at once. The data stays unread for the next read; a canceled or final
    /// result is left to it too (a cancel, which a read consumes, is made again).
    /// </summary>
    private bool DataWaiting()
    {
        if (!_input.TryRead(out var result))
        {
            return false;
        }

        _input.AdvanceTo(result.Buffer.Start);
        if (result.IsCanceled)
        {
            _input.CancelPendingRead();
            return false;
        }

        return !result.IsCompleted;
    }

    /// <summary>The end of a connection, after its read loop: the last writes, the session and will, the transport.</summary>
    private async Task EndAsync()
    {
        _closing = true;

        // The last round runs here, on the read loop's thread, when none runs elsewhere (as after a read): handed to the
        // thread pool it cost every close two hops (the round, then this method's continuation) and a timed wait.
        StartWriteRound(inline: true);
        await StopWritesAsync().ConfigureAwait(false);
        _broker.OnConnectionClosed(this, _session, AuthorizedWill());
        if (_session is not null)
        {
            // Only connections whose CONNECT was accepted, once each: this method runs once per connection.
            _broker.Statistics.ConnectionClosed(_closeCause);
            BrokerLog.ClientDisconnected(Logger, ClientId, _closeReason);
        }

        try
        {
            if (_lingerOnClose)
            {
                await DiscardInputAsync().ConfigureAwait(false);
            }

            await _input.CompleteAsync().ConfigureAwait(false);
            await _output.CompleteAsync().ConfigureAwait(false);
        }
        finally
        {
            _broker.RemoveConnection(this);
        }
    }

    /// <summary>
    /// The transport or the read loop failed: the reason, unless the connection was already closing for one of its own
    /// (a close by the broker can make the transport fail under the read).
    /// </summary>
    private void EndedBy(string reason, ConnectionCloseReason cause)
    {
        if (!_closing)
        {
            _closeReason = reason;
            _closeCause = cause;
        }
    }

    /// <summary>
    /// Reads and throws away what the client still sends after the broker told it why it closes (DISCONNECT with a
    /// reason, or a refusing CONNACK), until the client closes, falls quiet, or <see cref="LingerLimit"/> passes.
    /// Closed with unread input, the socket answers the client's next packets with a reset, and a client still
    /// sending may fail on it (broken pipe) before it ever reads the reason.
    /// </summary>
    private async Task DiscardInputAsync()
    {
        var until = Environment.TickCount64 + (long)LingerLimit.TotalMilliseconds;
        using var quiet = new CancellationTokenSource();
        try
        {
            while (Environment.TickCount64 < until)
            {
                quiet.CancelAfter(LingerQuietTime);
                var result = await _input.ReadAsync(quiet.Token).ConfigureAwait(false);
                _input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Quiet, or the transport is gone: either way, nothing more to wait for.
        }
    }

    /// <summary>
    /// Says there is something to write: starts a write round on the thread pool when none runs, or makes the
    /// running one go round once more. Cheap and safe from any thread; signals made while a round runs fold into one.
    /// Signals the connection's own read loop makes while it handles a read take effect when the read is done, and
    /// its round then runs on that thread (<see cref="WriteAfterRead"/>).
    /// </summary>
    public void SignalWrite()
    {
        if (t_reading == this)
        {
            _writeAfterRead = true;
            return;
        }

        StartWriteRound(inline: false);
    }

    private void StartWriteRound(bool inline)
    {
        while (true)
        {
            var state = Volatile.Read(ref _writeState);
            if (state == WritesIdle)
            {
                if (Interlocked.CompareExchange(ref _writeState, WritesBusy, WritesIdle) == WritesIdle)
                {
                    if (inline)
                    {
                        _ = WriteRoundAsync();
                    }
                    else
                    {
                        // Preferring this thread's queue, as a continuation queued by the write loop's signal did.
                        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
                    }

                    return;
                }
            }
            else if (state != WritesBusy || Interlocked.CompareExchange(ref _writeState, WritesAgain, WritesBusy) == WritesBusy)
            {
                // Again, ended, or not started yet (the first round, at CONNECT or close, takes what is waiting).
                return;
            }
        }
    }

    /// <summary>
    /// What a read asked to write (CONNACK, acknowledgements, PINGRESP, SUBACK; messages routed to the client itself) is
    /// written by the read loop's thread once the read is handled, in one batch, as long as no round runs elsewhere:
    /// a hop through the thread pool per answer cost more than the answer. The round returns to the read loop at its
    /// first flush the socket holds back.
    /// </summary>
    private void WriteAfterRead()
    {
        if (_writeAfterRead)
        {
            _writeAfterRead = false;
            StartWriteRound(inline: true);
        }
    }

    /// <summary>
    /// Closes the connection from the server side. MQTT 5.0 clients first get a DISCONNECT with the
    /// reason code (§3.14) when <paramref name="sendDisconnect"/> is set. <paramref name="cause"/> is what the
    /// close is counted as (<see cref="BrokerStatistics.ConnectionsClosed"/>) once CONNECT was accepted.
    /// </summary>
    public void Close(ReasonCode reasonCode, string reason, ConnectionCloseReason cause, bool sendDisconnect = true)
    {
        if (_closing)
        {
            return;
        }

        _closeReason = reason;
        _closeCause = cause;
        if (sendDisconnect && V5 && IsConnected)
        {
            _lingerOnClose = true;

            // A server DISCONNECT may always carry a Reason String (§3.14.2.2.3).
            EnqueueControl(Outbound.Packet(new DisconnectPacket { ReasonCode = reasonCode, Properties = new MqttProperties { ReasonString = reason } }));
        }

        _closing = true;
        SignalWrite();
        _input.CancelPendingRead();
        lock (ControlLock)
        {
            // A read loop waiting for an authentication decision stops waiting (its continuation runs elsewhere).
            _connectClosed?.TrySetResult();
        }

        StartWrites();
    }

    /// <summary>
    /// Closes the connection because the broker stops (5.0: DISCONNECT 0x8B). The will does not fire:
    /// the client did not vanish, the server did.
    /// </summary>
    public void CloseForShutdown() => CloseByServer(ReasonCode.ServerShuttingDown, "server shutting down");

    /// <summary>Closes the connection because the broker stopped serving (<see cref="MqttBroker.StopServing"/>; 5.0: DISCONNECT 0x9C). The will does not fire.</summary>
    public void CloseForUnavailable(string reason) => CloseByServer(ReasonCode.UseAnotherServer, reason);

    private void CloseByServer(ReasonCode reasonCode, string reason)
    {
        _will = null;
        Close(reasonCode, reason, ConnectionCloseReason.ServerShutdown);
    }

    /// <summary>Called by the broker's monitor; closes the connection when one of its timers ran out.</summary>
    public void CheckTimers(long now)
    {
        if (_closing)
        {
            // Closing already: a second verdict would only log and count the same connection again.
            return;
        }

        var time = _broker.Time;
        if (_session is null)
        {
            if (time.GetElapsedTime(AcceptedAt, now) > Options.ConnectTimeout)
            {
                BrokerLog.ConnectTimeout(Logger, Endpoint, Options.ConnectTimeout);
                Close(ReasonCode.MaximumConnectTime, "no CONNECT in time", ConnectionCloseReason.Other, sendDisconnect: false);
            }

            return;
        }

        if (ReauthenticationTimedOut(now))
        {
            return;
        }

        // 5.0 §3.14.2.1: 0xA0 Maximum connect time, "the maximum connection time authorized for this connection has been exceeded".
        if (CredentialsExpireAt is { } expiry && time.GetUtcNow() >= expiry)
        {
            BrokerLog.CredentialsExpired(Logger, ClientId, expiry);
            Close(ReasonCode.MaximumConnectTime, "credentials expired", ConnectionCloseReason.NotAuthorized);
            return;
        }

        // [MQTT-3.1.2-24] (5.0) / [MQTT-3.1.2-24] (3.1.1): 1.5 times the keep-alive without a packet.
        if (_keepAlive > 0 && time.GetElapsedTime(Volatile.Read(ref _lastPacketAt), now).TotalMilliseconds > _keepAlive * 1500.0)
        {
            BrokerLog.KeepAliveTimeout(Logger, ClientId, _keepAlive);
            Close(ReasonCode.KeepAliveTimeout, "keep-alive timeout", ConnectionCloseReason.KeepAlive);
            return;
        }

        var flushStartedAt = Volatile.Read(ref _flushStartedAt);
        if (flushStartedAt != 0 && time.GetElapsedTime(flushStartedAt, now) > Options.StuckClientTimeout)
        {
            BrokerLog.StuckClient(Logger, ClientId, Options.StuckClientTimeout);
            _broker.Statistics.StuckClientDisconnected();
            Close(ReasonCode.ServerBusy, "stuck: accepted no data", ConnectionCloseReason.Stuck, sendDisconnect: false);
            _output.CancelPendingFlush();
        }
    }

    /// <summary>Decodes and handles every complete packet of one read, then advances the pipe once; true when it was the last read.</summary>
    private bool HandleRead(in ReadResult read)
    {
        var buffer = read.Buffer;
        var received = buffer.Length;
        var packets = 0;
        var turnEnded = false;
        t_reading = this;
        var router = _broker.Router;
        router.BeginBatch();
        try
        {
            while (!_closing)
            {
                if (packets == PacketsPerTurn || _pendingConnect is not null)
                {
                    turnEnded = true;
                    break;
                }

                var unread = buffer.Length;
                var status = MqttDecoder.TryDecode(ref buffer, _version, Options.MaximumPacketSize, out var packet, out var error);
                if (status == DecodeStatus.NeedMoreData)
                {
                    break;
                }

                if (status == DecodeStatus.Malformed)
                {
                    RefuseBadPacket(error.ReasonCode, error.Message);
                    break;
                }

                Volatile.Write(ref _lastPacketAt, _broker.Time.GetTimestamp());
                packets++;
                Handle(packet, unread - buffer.Length);
            }
        }
        catch (MqttProtocolException ex)
        {
            RefuseBadPacket(ex.ReasonCode, ex.Message);
        }
        finally
        {
            _session?.Counters.Received(t_publishesReceived.Messages, received - buffer.Length);
            _broker.Statistics.Received(packets, received - buffer.Length, ref t_publishesReceived);

            // A turn that ended with packets left has not examined them: the next read returns them at once.
            _input.AdvanceTo(buffer.Start, turnEnded ? buffer.Start : buffer.End);
            t_reading = null;
            router.EndBatch();
        }

        WriteAfterRead();
        return read.IsCompleted || read.IsCanceled;
    }

    /// <summary>
    /// A malformed packet or protocol error. Before CONNECT is accepted it is answered with CONNACK
    /// and the reason (5.0; 3.1.1 return code 0x01 for an unsupported version); after, 5.0 clients get
    /// DISCONNECT with the reason and 3.1.1 clients are simply closed (§4.13). A reason only CONNACK may carry (a second
    /// CONNECT with an unknown protocol level: 0x84) becomes 0x82 Protocol error, which a second CONNECT is [MQTT-3.1.0-2].
    /// </summary>
    private void RefuseBadPacket(ReasonCode reasonCode, string reason)
    {
        if (_session is null)
        {
            if (reasonCode == ReasonCode.UnsupportedProtocolVersion || _version == MqttProtocolVersion.V500)
            {
                RefuseConnect(new ConnectRefusal(reasonCode, reason), clientId: string.Empty, userName: null);
                return;
            }

            _broker.LogConnectRefused(Endpoint, string.Empty, null, reasonCode, reason, authentication: false);
            Close(reasonCode, reason, ConnectionCloseReason.ProtocolError, sendDisconnect: false);
            return;
        }

        if (!ReasonCodeRules.IsAllowed(PacketType.Disconnect, (byte)reasonCode, MqttProtocolVersion.V500))
        {
            reasonCode = ReasonCode.ProtocolError;
        }

        BrokerLog.ProtocolViolation(Logger, ClientId, Endpoint, reasonCode, reason);
        Close(reasonCode, reason, ConnectionCloseReason.ProtocolError);
    }

    /// <param name="packet">The decoded packet.</param>
    /// <param name="size">Its size on the wire, for the statistics.</param>
    private void Handle(in DecodedPacket packet, long size)
    {
        if (_session is null)
        {
            if (_exchange is null)
            {
                // The decoder accepts only CONNECT before the version is known [MQTT-3.1.0-1].
                HandleConnect((ConnectPacket)packet.Control!);
            }
            else if (packet.Type == PacketType.Auth)
            {
                HandleAuth((AuthPacket)packet.Control!);
            }
            else
            {
                // 5.0 §4.12: until CONNACK the exchange goes on in AUTH packets only.
                throw new MqttProtocolException(ReasonCode.ProtocolError, "a packet other than AUTH during enhanced authentication");
            }

            return;
        }

        switch (packet.Type)
        {
            case PacketType.Publish:
                HandlePublish(packet.Publish, size);
                break;
            case PacketType.PubAck:
                CompleteOutgoing(packet.Ack.PacketId, QualityOfService.AtLeastOnce);
                break;
            case PacketType.PubRec:
                HandlePubRec(packet.Ack);
                break;
            case PacketType.PubRel:
                HandlePubRel(packet.Ack.PacketId);
                break;
            case PacketType.PubComp:
                CompleteOutgoing(packet.Ack.PacketId, QualityOfService.ExactlyOnce);
                break;
            case PacketType.Subscribe:
                HandleSubscribe((SubscribePacket)packet.Control!);
                break;
            case PacketType.Unsubscribe:
                HandleUnsubscribe((UnsubscribePacket)packet.Control!);
                break;
            case PacketType.PingReq:
                EnqueueControl(Outbound.Packet(PingRespPacket.Instance));
                break;
            case PacketType.Disconnect:
                HandleDisconnect((DisconnectPacket)packet.Control!);
                break;
            case PacketType.Auth:
                HandleAuth((AuthPacket)packet.Control!);
                break;
            case PacketType.Connect:
                // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
                throw new MqttProtocolException(ReasonCode.ProtocolError, "second CONNECT on one connection");
            default:
                // CONNACK, SUBACK, UNSUBACK and PINGRESP only flow from server to client.
                throw new MqttProtocolException(ReasonCode.ProtocolError, "packet a client may not send");
        }
    }

    /// <summary>
    /// A normal DISCONNECT deletes the will (3.1.1 [MQTT-3.1.2-10], 5.0 [MQTT-3.14.4-3]) unless 5.0's
    /// reason 0x04 asks for it. 5.0 may change the Session Expiry Interval, but not from 0 [MQTT-3.14.2-2].
    /// </summary>
    private void HandleDisconnect(DisconnectPacket disconnect)
    {
        if (disconnect.Properties?.SessionExpiryInterval is { } expiry)
        {
            if (_session!.ExpiryInterval == 0 && expiry != 0)
            {
                throw new MqttProtocolException(ReasonCode.ProtocolError, "DISCONNECT sets a Session Expiry Interval after CONNECT set 0");
            }

            _session.ExpiryInterval = expiry;
        }

        if (disconnect.ReasonCode != ReasonCode.DisconnectWithWillMessage)
        {
            _will = null;
        }

        _closeReason = disconnect.ReasonCode == ReasonCode.Success ? "DISCONNECT" : $"DISCONNECT ({disconnect.ReasonCode})";
        _closeCause = ConnectionCloseReason.ClientDisconnect;
        _closing = true;
    }

    private void CompleteOutgoing(ushort packetId, QualityOfService qos)
    {
        if (_session!.Complete(packetId, qos))
        {
            SignalWrite();
            return;
        }

        RefuseWrongAcknowledgement(packetId, qos);
    }

    /// <summary>
    /// An acknowledgement of the other QoS flow for a message in flight (PUBACK for a QoS 2 message, PUBREC or
    /// PUBCOMP for a QoS 1 one) is a protocol error (5.0 §4.13.1: DISCONNECT 0x82; 3.1.1 §4.8: closed). An id that
    /// is not in flight at all is ignored: it may be an acknowledgement the session no longer waits for.
    /// </summary>
    private void RefuseWrongAcknowledgement(ushort packetId, QualityOfService acknowledged)
    {
        if (_session!.InflightQualityOfService(packetId) is { } inFlight && inFlight != acknowledged)
        {
            throw new MqttProtocolException(ReasonCode.ProtocolError, $"acknowledgement of a QoS {(int)acknowledged} flow for a QoS {(int)inFlight} message");
        }
    }

    private void HandlePubRec(in AckPacket ack)
    {
        var session = _session!;
        if (ack.ReasonCode >= ReasonCode.UnspecifiedError)
        {
            // 5.0 §4.3.3: a PUBREC with an error ends the flow; no PUBREL follows.
            CompleteOutgoing(ack.PacketId, QualityOfService.ExactlyOnce);
            return;
        }

        // [MQTT-4.3.3-6] (3.1.1 §4.3.3): once PUBREL went out the PUBLISH is never sent again, so PUBREL waits until the released state
        // is stored (strict durability): a session resumed after a crash, here or on the node adopting it, then sends PUBREL. Written
        // before that commit, a crash left the message unreleased in the store, and the resumed session sent the PUBLISH again to a
        // client that had already released its id, which delivered it twice.
        Persistence.BeginPacket();
        var known = session.Release(ack.PacketId);
        if (!known)
        {
            RefuseWrongAcknowledgement(ack.PacketId, QualityOfService.ExactlyOnce);
        }

        EnqueueControl(Outbound.Ack(PacketType.PubRel, ack.PacketId, known || !V5 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound,
            Persistence.EndPacket()));
    }

    private void HandlePubRel(ushort packetId)
    {
        // The id is forgotten in storage before PUBCOMP lets the client reuse it.
        Persistence.BeginPacket();
        var known = _session!.ReleaseReceivedQos2(packetId);

        // [MQTT-4.3.3-9] (3.1.1 [MQTT-4.3.3-2]): PUBCOMP answers every PUBREL.
        EnqueueControl(Outbound.Ack(PacketType.PubComp, packetId, known || !V5 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound,
            Persistence.EndPacket()));
    }

    private void EnqueueControl(in Outbound item)
    {
        lock (ControlLock)
        {
            (_control ??= WriteBuffers<Queue<Outbound>>.Take() ?? new Queue<Outbound>(1)).Enqueue(item);
        }

        SignalWrite();
    }

    private void StartWrites()
    {
        // Started by CONNECT on the read loop, or by a close from another thread: exactly once, by whoever leaves the
        // not-started state first.
        if (t_reading == this)
        {
            // The end of the read starts the first round.
            if (Interlocked.CompareExchange(ref _writeState, WritesIdle, WritesNotStarted) == WritesNotStarted)
            {
                _writeAfterRead = true;
            }

            return;
        }

        if (Interlocked.CompareExchange(ref _writeState, WritesBusy, WritesNotStarted) == WritesNotStarted)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
        }
    }

    /// <summary>Waits for the last write round (it writes what the closing connection still has to say), for a while.</summary>
    private async Task StopWritesAsync()
    {
        TaskCompletionSource ended;
        lock (ControlLock)
        {
            // Never started: a close from another thread that comes after this starts no round either.
            if (Interlocked.CompareExchange(ref _writeState, WritesEnded, WritesNotStarted) == WritesNotStarted || _writeState == WritesEnded)
            {
                return;
            }

            ended = _writesEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        try
        {
            await ended.Task.WaitAsync(CloseFlushTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _output.CancelPendingFlush();
            await ended.Task.ConfigureAwait(false);
        }
    }

    /// <summary>A write round, run by the thread pool for <see cref="SignalWrite"/>.</summary>
    void IThreadPoolWorkItem.Execute() => _ = WriteRoundAsync();

    /// <summary>
    /// Writes batches until there is nothing left, then ends: an idle connection keeps no parked loop, signal, task
    /// or batch. It completes without an allocation when every flush does (the usual case); a flush the socket holds
    /// back or a commit an acknowledgement waits for keeps the round's state until it goes on.
    /// </summary>
    private async Task WriteRoundAsync()
    {
        _batch = WriteBuffers<List<Outbound>>.Take() ?? new List<Outbound>();
        try
        {
            while (true)
            {
                // Signals from here on start another turn of this loop.
                Volatile.Write(ref _writeState, WritesBusy);
                var closing = _closing;
                CollectBatch(closing);
                if (_batch.Count == 0)
                {
                    if (closing)
                    {
                        EndWrites();
                        return;
                    }

                    if (GoIdle())
                    {
                        return;
                    }

                    continue;
                }

                // An acknowledgement of something stored, or a QoS 2 PUBLISH whose packet id is being stored, waits for its
                // commit; what comes before it is flushed meanwhile.
                var written = 0;
                while (true)
                {
                    written = WriteBatch(written);
                    Volatile.Write(ref _flushStartedAt, _broker.Time.GetTimestamp());
                    var flush = await _output.FlushAsync().ConfigureAwait(false);
                    Volatile.Write(ref _flushStartedAt, 0);
                    if (flush.IsCompleted || flush.IsCanceled)
                    {
                        EndWrites();
                        return;
                    }

                    if (written == _batch.Count)
                    {
                        break;
                    }

                    if (closing && LeaveUnacknowledged(_batch[written]))
                    {
                        // Closing: a PUBREC still waiting is left to the session for the client's resend, not waited for here (one
                        // queued by a PUBLISH read just before an acknowledgement failed, after that failure left the others).
                        _batch.RemoveAt(written);
                        continue;
                    }

                    if (!await IsStoredAsync(_batch[written].Commit!).ConfigureAwait(false))
                    {
                        LeaveUnacknowledged(written);

                        // Closing: the next round writes only the DISCONNECT.
                        break;
                    }
                }

                _batch.Clear();
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException)
        {
            // The transport is gone; the read loop ends the connection.
            EndedBy("network connection lost", ConnectionCloseReason.Network);
            _closing = true;
            _input.CancelPendingRead();
            EndWrites();
        }
    }

    /// <summary>
    /// Ends the round when nothing was signalled since it last looked, giving back the batch and an empty control
    /// queue; false when a signal came meanwhile and the round must look again.
    /// </summary>
    private bool GoIdle()
    {
        ReleaseBatch();
        lock (ControlLock)
        {
            if (_control is { Count: 0 } control)
            {
                _control = null;
                WriteBuffers<Queue<Outbound>>.Return(control);
            }
        }

        if (Interlocked.CompareExchange(ref _writeState, WritesIdle, WritesBusy) == WritesBusy)
        {
            return true;
        }

        _batch = WriteBuffers<List<Outbound>>.Take() ?? new List<Outbound>();
        return false;
    }

    /// <summary>No round runs again; whoever waits for the last one (<see cref="StopWritesAsync"/>) goes on.</summary>
    private void EndWrites()
    {
        ReleaseBatch();
        lock (ControlLock)
        {
            _writeState = WritesEnded;
            _writesEnded?.TrySetResult();
        }
    }

    private void ReleaseBatch()
    {
        var batch = _batch;
        if (batch != NoBatch)
        {
            _batch = NoBatch;
            batch.Clear();
            WriteBuffers<List<Outbound>>.Return(batch);
        }
    }

    /// <summary>Control packets first, in arrival order; then redeliveries; then queued messages within the window.</summary>
    private void CollectBatch(bool closing)
    {
        lock (ControlLock)
        {
            while (_control is not null && _control.TryDequeue(out var item))
            {
                _batch.Add(item);
            }
        }

        if (closing || _session is not { } session)
        {
            return;
        }

        if (_redeliver)
        {
            _redeliver = false;
            session.CollectRedeliveries(this, _batch);
        }

        // In short turns of the session's lock, so that routing threads queueing for this client never wait
        // behind a whole queue being moved; up to a bound per written batch.
        var now = _broker.Time.GetTimestamp();
        var expired = 0;
        int turn;
        do
        {
            var before = _batch.Count;
            var expiredInTurn = session.CollectSendable(this, _batch, _window, now, CollectTurn, Options.RetainedDeliveryBatch);
            expired += expiredInTurn;
            turn = _batch.Count - before + expiredInTurn;
        }
        while (turn == CollectTurn && _batch.Count < MaximumBatch);

        _broker.Statistics.MessagesDroppedAdd(DropReason.Expired, expired);
    }

    /// <summary>
    /// Writes the batch from <paramref name="start"/> up to the first acknowledgement whose commit is
    /// not done; returns where it stopped (the batch's length when everything is written).
    /// </summary>
    private int WriteBatch(int start)
    {
        var statistics = _broker.Statistics;
        var delivered = default(QosTally);

        // One timestamp and one latency for the batch: its oldest live delivery, the batch's worst. A latency
        // per delivery cost more than the rest of the statistics together (the histogram takes a lock per record).
        var writtenAt = statistics.DeliveryLatencyEnabled ? Stopwatch.GetTimestamp() : 0;
        var oldest = long.MaxValue;
        long bytes = 0;
        var i = start;
        for (; i < _batch.Count; i++)
        {
            var item = _batch[i];
            if (item.Commit is { IsCompletedSuccessfully: false })
            {
                break;
            }

            switch (item.Type)
            {
                case PacketType.Publish:
                    var written = WritePublish(item);
                    if (written == 0)
                    {
                        break;
                    }

                    bytes += written;
                    delivered.Add(item.Delivery.QualityOfService, written);

                    // Live deliveries only: not a resend, nor a retained message sent for a new subscription.
                    if (writtenAt != 0 && item.Delivery.Message.ReceivedAt != 0 && !item.Duplicate && !item.Delivery.AtSubscribe)
                    {
                        oldest = Math.Min(oldest, item.Delivery.Message.ReceivedAt);
                    }

                    break;
                case PacketType.PubAck or PacketType.PubRec or PacketType.PubRel or PacketType.PubComp:
                    bytes += MqttEncoder.WriteAck(_output, new AckPacket(item.Type, item.PacketId, item.ReasonCode), _version);
                    break;
                default:
                    bytes += MqttEncoder.Write(_output, item.Control!, _version);
                    break;
            }
        }

        if (oldest != long.MaxValue)
        {
            statistics.BatchWritten(oldest, writtenAt);
        }

        _session?.Counters.Sent(delivered.Messages, bytes);
        statistics.Sent(i - start, bytes, ref delivered);
        return i;
    }

    /// <summary>
    /// The connection closes because an acknowledgement failed: the PUBRECs not written yet, from <paramref name="from"/> in the batch
    /// and those still queued, are left to the session, and the queued ones are not written (the closing round would wait for them).
    /// A QoS 2 PUBLISH whose PUBREC is withheld because its storage failed is forgotten (its packet id, in memory and in storage): the
    /// client sends it again, and it is routed and stored again rather than answered as a duplicate with a PUBREC for a message that
    /// is not on disk [MQTT-4.3.3-10] only holds for what was stored. One that another node did not accept keeps its packet id: the
    /// nodes that did accept it (this one included) must not get it twice, so the client's resend is answered as a duplicate
    /// [MQTT-4.3.3-10] (docs/clustering.md#acknowledged-forwarding); unless it went nowhere
    /// (<see cref="ForwardNotAcceptedException.WentNowhere"/>), which is then routed afresh. One whose acknowledgement is still waiting
    /// (a node not answered yet, a dead node's routes held) is held by the session, so that the resend's PUBREC waits for the same
    /// outcome (<see cref="Session.HoldQos2Acknowledgement"/>).
    /// </summary>
    private void LeaveUnacknowledged(int from)
    {
        for (var i = from; i < _batch.Count; i++)
        {
            LeaveUnacknowledged(_batch[i]);
        }

        lock (ControlLock)
        {
            if (_control is { Count: > 0 } control)
            {
                for (var count = control.Count; count > 0; count--)
                {
                    var item = control.Dequeue();
                    if (!LeaveUnacknowledged(item))
                    {
                        control.Enqueue(item);
                    }
                }
            }
        }
    }

    /// <summary>Leaves a PUBREC whose acknowledgement did not succeed (yet) to the session; false for any other item.</summary>
    private bool LeaveUnacknowledged(in Outbound item)
    {
        if (item.Type != PacketType.PubRec || item.Commit is not { IsCompletedSuccessfully: false } commit)
        {
            return false;
        }

        if (!commit.IsCompleted)
        {
            _session!.HoldQos2Acknowledgement(item.PacketId, commit);
        }
        else if (ForgetsPacketId(commit))
        {
            _session!.ReleaseReceivedQos2(item.PacketId);
        }

        return true;
    }

    /// <summary>
    /// Whether a failed acknowledgement of a QoS 2 PUBLISH lets its packet id go, so that the resend is routed afresh: its storage
    /// failed, or it went nowhere in the cluster; not when another node may have taken it.
    /// </summary>
    private static bool ForgetsPacketId(Task failed) => failed.IsFaulted && NotAccepted(failed) is not { WentNowhere: false };

    /// <summary>Why another node of the cluster did not accept the message, when that is why the acknowledgement failed; null otherwise.</summary>
    private static ForwardNotAcceptedException? NotAccepted(Task commit)
    {
        foreach (var failure in commit.Exception!.InnerExceptions)
        {
            if (failure is ForwardNotAcceptedException notAccepted)
            {
                return notAccepted;
            }
        }

        return null;
    }

    /// <summary>
    /// Waits for a storage commit an acknowledgement depends on, and in a cluster for the other nodes the message was forwarded
    /// to. When it failed, nothing is acknowledged: the connection closes, and the client sends the packet again later
    /// with DUP [MQTT-4.4.0-1].
    /// </summary>
    private async Task<bool> IsStoredAsync(Task commit)
    {
        try
        {
            await commit.ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            if (NotAccepted(commit) is not null)
            {
                BrokerLog.ForwardNotAccepted(Logger, ClientId, ex.Message);
                Close(ReasonCode.UnspecifiedError, "another node of the cluster did not accept the message", ConnectionCloseReason.ForwardNotAccepted);
                return false;
            }

            BrokerLog.StorageFailed(Logger, ClientId, ex.Message);
            Close(ReasonCode.UnspecifiedError, "storage unavailable: the message could not be stored", ConnectionCloseReason.StorageError);
            return false;
        }
    }

    /// <summary>Writes one PUBLISH; returns its size, or 0 when it was too large for the client and skipped.</summary>
    private int WritePublish(in Outbound item)
    {
        var delivery = item.Delivery;
        var message = delivery.Message;
        var topic = new ReadOnlySequence<byte>(message.TopicBytes);
        var properties = default(ReadOnlySequence<byte>);
        var known = false;
        if (V5)
        {
            var alias = _outgoingAliases.Choose(message.Topic, out known);
            if (known)
            {
                topic = ReadOnlySequence<byte>.Empty;
            }

            properties = DeliveryProperties(delivery, alias);
        }

        // The block is the message's validated properties plus ones written here: no need to walk it again.
        var publish = PublishPacket.WithTrustedProperties(topic, new ReadOnlySequence<byte>(message.Payload), delivery.QualityOfService, delivery.Retain,
            item.Duplicate, item.PacketId, properties);

        if (_clientMaximumPacketSize != long.MaxValue)
        {
            var size = MqttEncoder.MeasurePublish(publish, _version);
            if (size > _clientMaximumPacketSize)
            {
                // [MQTT-3.1.2-25]: discard it and behave as if it had been sent.
                BrokerLog.PacketTooLargeForClient(Logger, ClientId, message.Topic, size);
                _broker.Statistics.MessagesDroppedAdd(DropReason.TooLarge);
                _session?.Counters.Drop(DropReason.TooLarge);
                if (!known)
                {
                    _outgoingAliases.Forget(message.Topic);
                }

                if (item.PacketId != 0)
                {
                    _session!.Complete(item.PacketId, delivery.QualityOfService);
                }

                return 0;
            }
        }

        return MqttEncoder.WritePublish(_output, publish, _version);
    }

    /// <summary>
    /// The message's own properties plus what belongs to this delivery: the remaining Message Expiry
    /// Interval [MQTT-3.3.2-6], the Topic Alias, and the Subscription Identifiers [MQTT-3.3.4-3]. Without
    /// any of those the message's block is used as it is, without a copy.
    /// </summary>
    private ReadOnlySequence<byte> DeliveryProperties(in Delivery delivery, ushort alias)
    {
        var message = delivery.Message;
        var ids = delivery.SubscriptionIds;
        if (message.ExpiresAt == 0 && alias == 0 && ids is null)
        {
            return new ReadOnlySequence<byte>(message.Properties);
        }

        var needed = 5 + 3 + ((ids?.Length ?? 0) * 5) + message.Properties.Length;
        if (_propertyScratch.Length < needed)
        {
            _propertyScratch = new byte[Math.Max(Math.Max(needed, 256), _propertyScratch.Length * 2)];
        }

        var span = _propertyScratch.AsSpan();
        var length = 0;
        if (message.ExpiresAt != 0)
        {
            span[length++] = (byte)PropertyId.MessageExpiryInterval;
            BinaryPrimitives.WriteUInt32BigEndian(span[length..], message.RemainingSeconds(_broker.Time.GetTimestamp(), _broker.Time.TimestampFrequency));
            length += 4;
        }

        if (alias != 0)
        {
            span[length++] = (byte)PropertyId.TopicAlias;
            BinaryPrimitives.WriteUInt16BigEndian(span[length..], alias);
            length += 2;
        }

        foreach (var id in ids ?? [])
        {
            span[length++] = (byte)PropertyId.SubscriptionIdentifier;
            length += VariableByteInteger.Write(span[length..], id);
        }

        message.Properties.Span.CopyTo(span[length..]);
        length += message.Properties.Length;
        return new ReadOnlySequence<byte>(_propertyScratch, 0, length);
    }
}
