using System.Buffers;
using System.Collections.Concurrent;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.LoadTest;

/// <summary>
/// A minimal MQTT 3.1.1 client over a socket and System.IO.Pipelines, using the IoTHub.Mqtt codec
/// (PUBLISH is decoded in place, without allocating), so that the tool costs less than the brokers. The pipes sit
/// on the socket's own stream, or on TLS and/or a WebSocket over it (<see cref="ClientTransport"/>).
/// Payloads carry the send timestamp (8 bytes), the publishing flow's index (4 bytes) and, when they have room, the client's
/// sequence number of the message (8 bytes), which the soak's accounting follows (<see cref="IMessageObserver"/>).
/// </summary>
internal sealed class LoadClient : IAsyncDisposable
{
    public const int PayloadHeader = 12;

    /// <summary>The smallest payload that carries a sequence number, after the header.</summary>
    public const int SequencedPayload = PayloadHeader + sizeof(long);
    public const int InflightLimit = 32;
    private readonly MqttProtocolVersion _version;

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    // QoS 1/2 PUBLISH sent and not yet acknowledged (PUBACK/PUBCOMP), as any real client caps them:
    // 3.1.1 announces no Receive Maximum, and IoTHub closes a client over its 64 (Mqtt:MaximumIncomingInflightMessages).
    private readonly SemaphoreSlim _inflight;
    private readonly int _inflightLimit;
    private readonly TaskCompletionSource<ReasonCode> _connAck = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _disposing = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Flow[] _flows;
    private readonly bool _stopReadingAfterSubAck;
    private readonly IMessageObserver? _observer;
    private LatencyHistogram _latency = new();
    private TaskCompletionSource? _subAcks;
    private TaskCompletionSource? _unsubAck;
    private int _subAcksExpected;
    private Task? _receiving;
    private ushort _nextPacketId;
    private long _nextSequence;

    // The SCRAM exchange of an enhanced-authentication CONNECT (MQTT 5.0 §4.12), and the AUTH answer the receive loop sends.
    private ScramClient? _scram;
    private AuthPacket? _authAnswer;

    private LoadClient(Socket socket, Stream stream, Flow[] flows, ClientOptions options)
    {
        _socket = socket;
        _stream = stream;
        _inflightLimit = options.InflightLimit;
        _inflight = new SemaphoreSlim(options.InflightLimit);
        _stopReadingAfterSubAck = options.StopReadingAfterSubAck;
        _observer = options.Observer;
        _version = options.Scram is null ? MqttProtocolVersion.V311 : MqttProtocolVersion.V500;
        LocalPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 65536, minimumReadSize: 16384));
        _writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 65536));
        _flows = flows;
        _nextSequence = options.FirstSequence;
    }

    /// <summary>Messages received; written by the receive loop only.</summary>
    public long Received;

    /// <summary>PUBLISH packets the socket has taken (flushed); written under the write lock.</summary>
    public long Published;

    /// <summary>Set to record the latency of received messages into <see cref="Latency"/>.</summary>
    public static volatile bool Recording;

    public LatencyHistogram Latency => Volatile.Read(ref _latency);

    /// <summary>The latencies recorded so far; recording goes on into a new histogram (one per open-loop step).</summary>
    public LatencyHistogram TakeLatency() => Interlocked.Exchange(ref _latency, new LatencyHistogram());

    public Task Completion => _receiving ?? Task.CompletedTask;

    /// <summary>The client's own port, by which the broker's end of the connection is found in <see cref="TcpTable"/>.</summary>
    public int LocalPort { get; }

    /// <summary>Connects (TCP, the transport's handshakes, CONNECT); waits for CONNACK unless <paramref name="waitForConnAck"/> is false.</summary>
    public static Task<LoadClient> ConnectAsync(ClientTransport transport, string clientId, Flow[] flows, bool waitForConnAck = true, CancellationToken cancellation = default) =>
        ConnectAsync(transport, clientId, flows, ClientOptions.Default, waitForConnAck, cancellation);

    /// <summary>Connects with <paramref name="options"/> other than the defaults.</summary>
    public static async Task<LoadClient> ConnectAsync(ClientTransport transport, string clientId, Flow[] flows, ClientOptions options, bool waitForConnAck = true, CancellationToken cancellation = default)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (options.ReceiveBufferSize > 0)
        {
            // Before connect: the window scale is agreed in the handshake, so a later change would not shrink it.
            socket.ReceiveBufferSize = options.ReceiveBufferSize;
        }

        if (options.Source is { } source)
        {
            ConnectSource.Bind(socket, source);
        }

        Stream stream;
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, transport.Port), cancellation).ConfigureAwait(false);
            stream = await transport.OpenAsync(socket, cancellation).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var client = new LoadClient(socket, stream, flows, options);
        client._receiving = client.ReceiveAsync();
        var connect = new ConnectPacket
        {
            ClientId = clientId,
            CleanStart = options.CleanSession,
            KeepAlive = options.KeepAlive,
            UserName = options.Credentials?.UserName ?? options.UserName,
            Password = options.Credentials?.Password,
            Will = options.Will,
        };
        if (options.Scram is { } scram)
        {
            // The user name and password travel inside the SCRAM messages instead.
            client._scram = ScramClient.ForMethod(scram.Method, options.Credentials!.UserName, Encoding.UTF8.GetString(options.Credentials.Password), scram.SaltedPasswords);
            (connect.ProtocolVersion, connect.UserName, connect.Password) = (MqttProtocolVersion.V500, null, null);
            connect.Properties = new MqttProperties { AuthenticationMethod = scram.Method, AuthenticationData = client._scram.ClientFirst() };
        }

        await client.SendAsync(connect).ConfigureAwait(false);
        if (waitForConnAck)
        {
            var code = await client._connAck.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellation).ConfigureAwait(false);
            if (code != ReasonCode.Success)
            {
                await client.DisposeAsync().ConfigureAwait(false);
                throw new InvalidOperationException("CONNACK refused: " + code);
            }
        }

        return client;
    }

    /// <summary>Subscribes to the filters, many per SUBSCRIBE packet, and waits for every SUBACK.</summary>
    public async Task SubscribeAsync(IReadOnlyList<string> filters, QualityOfService qos, TimeSpan timeout)
    {
        const int PerPacket = 100;
        var packets = (filters.Count + PerPacket - 1) / PerPacket;
        _subAcks = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _subAcksExpected, packets);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            for (var start = 0; start < filters.Count; start += PerPacket)
            {
                var packet = new SubscribePacket { PacketId = NextPacketId() };
                for (var i = start; i < Math.Min(filters.Count, start + PerPacket); i++)
                {
                    packet.Subscriptions.Add(new TopicSubscription(filters[i], new SubscriptionOptions(qos)));
                }

                MqttEncoder.Write(_writer, packet, _version);
                if (_writer.UnflushedBytes > 65536)
                {
                    await _writer.FlushAsync().ConfigureAwait(false);
                }
            }

            await _writer.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }

        await _subAcks.Task.WaitAsync(timeout).ConfigureAwait(false);
    }

    /// <summary>Unsubscribes from the filters in one UNSUBSCRIBE and waits for its UNSUBACK.</summary>
    public async Task UnsubscribeAsync(IReadOnlyList<string> filters, TimeSpan timeout)
    {
        _unsubAck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            MqttEncoder.Write(_writer, new UnsubscribePacket { PacketId = NextPacketId(), TopicFilters = [.. filters] }, _version);
            await _writer.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }

        await _unsubAck.Task.WaitAsync(timeout).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes up to <paramref name="count"/> PUBLISH packets (each stamped with the current time and
    /// <paramref name="flowIndex"/>, and with a sequence number when it has room) and flushes once. <paramref name="topics"/>[pick()] chooses
    /// each topic.
    /// </summary>
    public async ValueTask PublishAsync(byte[][] topics, Random? random, byte[] payload, int flowIndex, QualityOfService qos, int count, bool retain = false,
        CancellationToken cancellation = default)
    {
        if (qos != QualityOfService.AtMostOnce)
        {
            // Outside the write lock: the receive loop needs it to answer PUBREC before PUBCOMP frees a slot.
            for (var i = 0; i < count; i++)
            {
                await _inflight.WaitAsync(cancellation).ConfigureAwait(false);
            }
        }

        await _writeLock.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(8), flowIndex);
            var payloadSequence = new ReadOnlySequence<byte>(payload);
            for (var i = 0; i < count; i++)
            {
                var topic = topics.Length == 1 ? topics[0] : topics[random!.Next(topics.Length)];
                BinaryPrimitives.WriteInt64LittleEndian(payload, Stopwatch.GetTimestamp());
                var packetId = qos == QualityOfService.AtMostOnce ? (ushort)0 : NextPacketId();
                if (payload.Length >= SequencedPayload)
                {
                    var sequence = _nextSequence++;
                    BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(PayloadHeader), sequence);
                    _observer?.OnSending(packetId, sequence, topic);
                }

                MqttEncoder.WritePublish(_writer, new PublishPacket(new ReadOnlySequence<byte>(topic), payloadSequence, qos, retain, packetId: packetId), _version);
            }

            await _writer.FlushAsync(cancellation).ConfigureAwait(false);

            // Counted once the socket took them: a flush cancelled while the broker held it up sent nothing to count.
            Volatile.Write(ref Published, Published + count);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Sends again, with DUP and their packet ids, the QoS 1/2 messages an earlier connection of this session sent and got no
    /// PUBACK/PUBCOMP for ([MQTT-4.4.0-1]); new messages take packet ids after theirs. <paramref name="payload"/> is a scratch buffer.
    /// </summary>
    public async Task ResendAsync(IReadOnlyList<(ushort PacketId, long Sequence, byte[] Topic)> pending, QualityOfService qos, byte[] payload)
    {
        foreach (var _ in pending)
        {
            await _inflight.WaitAsync().ConfigureAwait(false);
        }

        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var (packetId, sequence, topic) in pending)
            {
                BinaryPrimitives.WriteInt64LittleEndian(payload, Stopwatch.GetTimestamp());
                BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(PayloadHeader), sequence);
                _observer?.OnSending(packetId, sequence, topic);
                MqttEncoder.WritePublish(_writer, new PublishPacket(new ReadOnlySequence<byte>(topic), new ReadOnlySequence<byte>(payload), qos, duplicate: true,
                    packetId: packetId), _version);
                _nextPacketId = Math.Max(_nextPacketId, packetId);
            }

            await _writer.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Waits until every QoS 1/2 PUBLISH sent so far is acknowledged.</summary>
    public async Task WaitUntilAcknowledgedAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        for (var i = 0; i < _inflightLimit; i++)
        {
            await _inflight.WaitAsync(cancel.Token).ConfigureAwait(false);
        }

        _inflight.Release(_inflightLimit);
    }

    public async Task SendAsync(ControlPacket packet)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            MqttEncoder.Write(_writer, packet, _version);
            await _writer.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Sends DISCONNECT and closes.</summary>
    public async Task DisconnectAsync()
    {
        try
        {
            await SendAsync(new DisconnectPacket()).ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _disposing.TrySetResult();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
        if (_receiving is not null)
        {
            try
            {
                await _receiving.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or OperationCanceledException or InvalidOperationException)
            {
            }
        }

        _writeLock.Dispose();
        _inflight.Dispose();
    }

    private ushort NextPacketId()
    {
        var id = ++_nextPacketId;
        if (id == 0)
        {
            id = _nextPacketId = 1;
        }

        return id;
    }

    private async Task ReceiveAsync()
    {
        await Task.Yield();
        var acks = new List<AckPacket>();
        try
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await _reader.ReadAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
                {
                    break;
                }

                var buffer = result.Buffer;
                var subscribed = Handle(ref buffer, acks);
                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (acks.Count > 0)
                {
                    await SendAcksAsync(acks).ConfigureAwait(false);
                }

                if (Interlocked.Exchange(ref _authAnswer, null) is { } answer)
                {
                    await SendAsync(answer).ConfigureAwait(false);
                }

                if (subscribed && _stopReadingAfterSubAck)
                {
                    // Stuck, not gone: the connection stays open (completing the reader would close the
                    // socket) and nothing reads it until the client is disposed.
                    await _disposing.Task.ConfigureAwait(false);
                    break;
                }

                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        finally
        {
            _connAck.TrySetResult(ReasonCode.UnspecifiedError);
            _subAcks?.TrySetException(new IOException("connection closed before SUBACK"));
            _unsubAck?.TrySetException(new IOException("connection closed before UNSUBACK"));
            await _reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Handles every complete packet in <paramref name="buffer"/>; true when the last SUBACK awaited was among them.</summary>
    private bool Handle(ref ReadOnlySequence<byte> buffer, List<AckPacket> acks)
    {
        var subscribed = false;
        Span<byte> header = stackalloc byte[PayloadHeader];
        while (true)
        {
            var status = MqttDecoder.TryDecode(ref buffer, _version, int.MaxValue, out var packet, out var error);
            if (status == DecodeStatus.NeedMoreData)
            {
                return subscribed;
            }

            if (status == DecodeStatus.Malformed)
            {
                throw new InvalidOperationException("malformed packet from the broker: " + error.Message);
            }

            switch (packet.Type)
            {
                case PacketType.Publish:
                    var publish = packet.Publish;
                    if (publish.Payload.Length >= PayloadHeader)
                    {
                        publish.Payload.Slice(0, PayloadHeader).CopyTo(header);
                        if (Recording)
                        {
                            var sent = BinaryPrimitives.ReadInt64LittleEndian(header);
                            _latency.Record((long)Stopwatch.GetElapsedTime(sent).TotalNanoseconds);
                        }

                        var flow = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
                        if ((uint)flow < (uint)_flows.Length)
                        {
                            _flows[flow].OnDelivered();
                        }
                    }

                    _observer?.OnReceived(publish);
                    Volatile.Write(ref Received, Received + 1);
                    if (publish.QualityOfService == QualityOfService.AtLeastOnce)
                    {
                        acks.Add(new AckPacket(PacketType.PubAck, publish.PacketId));
                    }
                    else if (publish.QualityOfService == QualityOfService.ExactlyOnce)
                    {
                        acks.Add(new AckPacket(PacketType.PubRec, publish.PacketId));
                    }

                    break;
                case PacketType.PubAck:
                case PacketType.PubComp:
                    _observer?.OnAcknowledged(packet.Ack.PacketId);
                    _inflight.Release();
                    break;
                case PacketType.PubRec:
                    acks.Add(new AckPacket(PacketType.PubRel, packet.Ack.PacketId));
                    break;
                case PacketType.PubRel:
                    _observer?.OnReleased(packet.Ack.PacketId);
                    acks.Add(new AckPacket(PacketType.PubComp, packet.Ack.PacketId));
                    break;
                case PacketType.ConnAck:
                    var connAck = (ConnAckPacket)packet.Control!;
                    if (_scram is not null && connAck.ReasonCode == ReasonCode.Success && !_scram.VerifyServerFinal(connAck.Properties?.AuthenticationData))
                    {
                        _connAck.TrySetException(new InvalidOperationException("SCRAM: the server's signature is wrong"));
                    }
                    else
                    {
                        _connAck.TrySetResult(connAck.ReasonCode);
                    }

                    break;
                case PacketType.Auth when _scram is not null:
                    var challenge = (AuthPacket)packet.Control!;
                    _authAnswer = new AuthPacket
                    {
                        ReasonCode = ReasonCode.ContinueAuthentication,
                        Properties = new MqttProperties
                        {
                            AuthenticationMethod = challenge.Properties?.AuthenticationMethod,
                            AuthenticationData = _scram.ClientFinal(challenge.Properties?.AuthenticationData ?? []),
                        },
                    };
                    break;
                case PacketType.SubAck:
                    // A refused filter (0x80 and up, an access rule's refusal among them) would leave its subscriber
                    // receiving nothing: the scenario fails instead of measuring an empty row.
                    if (((SubAckPacket)packet.Control!).ReasonCodes.Exists(code => (byte)code >= 0x80))
                    {
                        _subAcks?.TrySetException(new InvalidOperationException("SUBACK refused a filter"));
                    }

                    if (Interlocked.Decrement(ref _subAcksExpected) == 0)
                    {
                        _subAcks?.TrySetResult();
                        subscribed = true;
                    }

                    break;
                case PacketType.UnsubAck:
                    _unsubAck?.TrySetResult();
                    break;
            }
        }
    }

    private async Task SendAcksAsync(List<AckPacket> acks)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var ack in acks)
            {
                MqttEncoder.WriteAck(_writer, ack, _version);
            }

            acks.Clear();
            await _writer.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }
}

/// <summary>How a <see cref="LoadClient"/> connects and behaves, where it differs from a plain clean-session client.</summary>
/// <param name="CleanSession">false: an MQTT 3.1.1 persistent session (Clean Session 0), kept by the broker while offline.</param>
/// <param name="InflightLimit">QoS 1/2 PUBLISH packets that may wait for their acknowledgement before publishing waits.</param>
/// <param name="ReceiveBufferSize">SO_RCVBUF set before connecting (0: the system's), to make a stopped reader stop the broker soon.</param>
/// <param name="StopReadingAfterSubAck">Stop reading the socket for good once subscribed: a subscriber that is stuck, not slow.</param>
/// <param name="KeepAlive">The CONNECT's keep-alive in seconds (0: none); the client sends no PINGREQ, so keep it above the run.</param>
/// <param name="UserName">A user name without a password, for the access rules (<see cref="AccessRules"/>); <paramref name="Credentials"/> take precedence.</param>
/// <param name="Will">The will CONNECT carries (none by default).</param>
/// <param name="Observer">Sees every message sent and received, and their acknowledgements (the soak's accounting).</param>
/// <param name="FirstSequence">The sequence number of the first message published: a session's next connection goes on where the last stopped.</param>
/// <param name="Source">The loopback address the connection comes from (<see cref="ConnectSource"/>); 127.0.0.1 when null.</param>
internal sealed record ClientOptions(
    bool CleanSession = true,
    int InflightLimit = LoadClient.InflightLimit,
    int ReceiveBufferSize = 0,
    bool StopReadingAfterSubAck = false,
    ushort KeepAlive = 0,
    Credentials? Credentials = null,
    ScramOptions? Scram = null,
    string? UserName = null,
    WillMessage? Will = null,
    IMessageObserver? Observer = null,
    long FirstSequence = 0,
    IPAddress? Source = null)
{
    public static readonly ClientOptions Default = new();
}

/// <summary>
/// Follows a <see cref="LoadClient"/>'s messages one by one, for the soak's accounting (<see cref="Soak"/>). Called on the client's
/// send and receive paths, so it must be quick; one observer may serve the connections of one client id in turn (a persistent session
/// outlives its connections), two of them at once during a takeover.
/// </summary>
internal interface IMessageObserver
{
    /// <summary>A PUBLISH with a sequence number is about to be written; <paramref name="packetId"/> 0 at QoS 0.</summary>
    void OnSending(ushort packetId, long sequence, byte[] topic);

    /// <summary>PUBACK or PUBCOMP: the broker took one of this client's QoS 1/2 messages.</summary>
    void OnAcknowledged(ushort packetId);

    /// <summary>A PUBLISH arrived; the client acknowledges it after this returns.</summary>
    void OnReceived(in PublishPacket publish);

    /// <summary>PUBREL: the broker released a QoS 2 message this client received, whose packet id may now be reused.</summary>
    void OnReleased(ushort packetId);
}

/// <summary>
/// MQTT 5.0 enhanced authentication with SCRAM (the client side of IoTHub.Testing): the method, and the salted passwords the
/// clients keep per salt and iteration count, as RFC 5802 §5.1 lets a client cache them, so that the tool pays PBKDF2 once.
/// </summary>
internal sealed record ScramOptions(string Method, ConcurrentDictionary<string, byte[]> SaltedPasswords);

/// <summary>A user name and password the tool's clients send in CONNECT, and the password file that holds them (if any).</summary>
internal sealed record Credentials(string UserName, byte[] Password, string? PasswordFile)
{
    /// <summary>
    /// Writes a password file with one user through Debian's mosquitto_passwd (PBKDF2-SHA512, as Mosquitto
    /// 2.0 writes it), so IoTHub and Mosquitto check the same file.
    /// </summary>
    public static async Task<Credentials> CreateAsync()
    {
        const string User = "bench";
        const string Password = "bench-password";
        var folder = Directory.CreateTempSubdirectory("iothub-load-auth-").FullName;
        var file = Path.Combine(folder, "passwd");
        var start = new ProcessStartInfo("mosquitto_passwd", ["-c", "-b", file, User, Password]) { RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start mosquitto_passwd");
        var error = await process.StandardError.ReadToEndAsync().ConfigureAwait(false);
        await process.WaitForExitAsync().ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException("mosquitto_passwd failed: " + error);
        }

        BrokerProcess.LetMosquittoRead(folder, file);
        return new Credentials(User, Encoding.UTF8.GetBytes(Password), file);
    }
}
