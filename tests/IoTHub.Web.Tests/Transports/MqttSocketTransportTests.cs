using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using IoTHub.Testing;
using IoTHub.Web.Transports.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace IoTHub.Web.Tests.Transports;

/// <summary>
/// The MQTT listeners' own socket transport over real loopback sockets: partial and ended input, many connections, both
/// directions of back-pressure, and that a connection holds no buffer once what it received is read and what it wrote is sent;
/// on Linux, that a waiting connection has no .NET asynchronous socket state (its readiness comes from our epoll poller).
/// </summary>
public sealed class MqttSocketTransportTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = MqttTestClient.Timeout;

    private readonly CountingPool _pool = new();
    private MqttSocketTransport? _transport;
    private IConnectionListener? _listener;

    public async Task InitializeAsync()
    {
        // Accepted at once, as the tests connect before they send (the deferral has a test of its own).
        _transport = new MqttSocketTransport(_pool, deferAcceptSeconds: 0);
        _listener = await _transport.BindAsync(new MqttEndPoint(IPAddress.Loopback, 0));
    }

    public async Task DisposeAsync()
    {
        await _listener!.DisposeAsync();
        _transport!.Dispose();
    }

    [Fact]
    public void It_binds_the_mqtt_listeners_addresses_only()
    {
        Assert.True(_transport!.CanBind(new MqttEndPoint(IPAddress.Loopback, 1883)));
        Assert.False(_transport.CanBind(new IPEndPoint(IPAddress.Loopback, 1883)));
        Assert.False(_transport.CanBind(new UnixDomainSocketEndPoint("/tmp/mqtt.sock")));
    }

    [Fact]
    public async Task The_connection_is_its_own_features_and_keeps_those_others_set()
    {
        var (client, connection) = await ConnectAsync();
        await using var _ = connection;
        using var __ = client;
        var features = connection.Features;

        Assert.Same(connection, features.Get<IConnectionIdFeature>());
        Assert.Same(connection.Transport, features.Get<IConnectionTransportFeature>()!.Transport);
        Assert.NotNull(features.Get<IMemoryPoolFeature>()!.MemoryPool);
        Assert.Equal(client.LocalEndPoint, features.Get<IConnectionEndPointFeature>()!.RemoteEndPoint);
        Assert.Null(features.Get<ITlsConnectionFeature>());

        var revision = features.Revision;
        var items = new ItemsFeature();
        features.Set<IConnectionItemsFeature>(items);
        foreach (var i in Enumerable.Range(0, 8))
        {
            features[typeof(string).Assembly.GetTypes()[i]] = i;
        }

        Assert.Same(items, features.Get<IConnectionItemsFeature>());
        Assert.True(features.Revision > revision);
        Assert.Contains(features, feature => feature.Key == typeof(IConnectionIdFeature));
        features.Set<IConnectionItemsFeature>(null);
        Assert.Same(connection, features.Get<IConnectionItemsFeature>());
    }

    [Fact]
    public async Task Half_a_packet_is_returned_and_the_next_read_waits_for_the_rest_without_a_buffer()
    {
        var (client, connection) = await ConnectAsync();
        await using var _ = connection;
        using var __ = client;
        var input = connection.Transport.Input;

        await client.SendAsync(new byte[] { 0x30, 0x05, 1 });
        var first = await input.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(new byte[] { 0x30, 0x05, 1 }, first.Buffer.ToArray());
        input.AdvanceTo(first.Buffer.Start, first.Buffer.End);

        var waiting = input.ReadAsync();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, _pool.Outstanding);

        await client.SendAsync(new byte[] { 2, 3, 4, 5 });
        var whole = await waiting.AsTask().WaitAsync(Timeout);
        Assert.Equal(new byte[] { 0x30, 0x05, 1, 2, 3, 4, 5 }, whole.Buffer.ToArray());
        input.AdvanceTo(whole.Buffer.End);

        // All of it read: the block is back, and the next read waits with none.
        Assert.Equal(0, _pool.Outstanding);
        var idle = input.ReadAsync();
        Assert.False(idle.IsCompleted);
        Assert.Equal(0, _pool.Outstanding);
        input.CancelPendingRead();
        Assert.True((await idle.AsTask().WaitAsync(Timeout)).IsCanceled);
    }

    [Fact]
    public async Task A_client_that_closes_mid_packet_ends_the_input_with_what_it_sent()
    {
        var (client, connection) = await ConnectAsync();
        await using var _ = connection;
        var input = connection.Transport.Input;
        var closed = new TaskCompletionSource();
        connection.ConnectionClosed.Register(closed.SetResult);

        await client.SendAsync(new byte[] { 0x30, 0x0A, 0, 1 });
        client.Shutdown(SocketShutdown.Send);
        client.Dispose();

        var result = await input.ReadAsync().AsTask().WaitAsync(Timeout);
        while (!result.IsCompleted)
        {
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            result = await input.ReadAsync().AsTask().WaitAsync(Timeout);
        }

        Assert.Equal(new byte[] { 0x30, 0x0A, 0, 1 }, result.Buffer.ToArray());
        await closed.Task.WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_client_that_resets_mid_packet_fails_the_read()
    {
        var (client, connection) = await ConnectAsync();
        await using var _ = connection;
        var input = connection.Transport.Input;

        await client.SendAsync(new byte[] { 0x30, 0x0A, 0 });
        var partial = await input.ReadAsync().AsTask().WaitAsync(Timeout);
        input.AdvanceTo(partial.Buffer.Start, partial.Buffer.End);
        var waiting = input.ReadAsync();

        client.LingerState = new LingerOption(true, 0);
        client.Dispose();

        await Assert.ThrowsAsync<ConnectionResetException>(() => waiting.AsTask().WaitAsync(Timeout));
    }

    [Fact]
    public async Task Aborting_fails_the_waiting_read_with_the_reason_and_closes_the_socket()
    {
        var (client, connection) = await ConnectAsync();
        using var _ = client;
        var waiting = connection.Transport.Input.ReadAsync();
        var closed = new TaskCompletionSource();
        connection.ConnectionClosed.Register(closed.SetResult);

        connection.Abort(new ConnectionAbortedException("stopping"));

        var failed = await Assert.ThrowsAsync<ConnectionAbortedException>(() => waiting.AsTask().WaitAsync(Timeout));
        Assert.Equal("stopping", failed.Message);
        await closed.Task.WaitAsync(Timeout);
        Assert.True((await connection.Transport.Output.WriteAsync(new byte[] { 0xD0, 0x00 }).AsTask().WaitAsync(Timeout)).IsCompleted);
        await connection.DisposeAsync();
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public async Task Many_connections_at_once_each_get_their_own_bytes_back_and_then_hold_no_buffer()
    {
        const int count = 300;
        var accepting = Task.Run(async () =>
        {
            var served = new List<Task>();
            for (var i = 0; i < count; i++)
            {
                var connection = (await _listener!.AcceptAsync())!;
                served.Add(EchoAsync(connection));
            }

            await Task.WhenAll(served);
        });

        var clients = await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(_listener!.EndPoint).WaitAsync(Timeout);
            var message = Enumerable.Range(0, 1000).Select(b => (byte)(b + i)).ToArray();
            await client.SendAsync(message);
            var echoed = new byte[message.Length];
            for (var read = 0; read < echoed.Length;)
            {
                read += await client.ReceiveAsync(echoed.AsMemory(read)).AsTask().WaitAsync(Timeout);
            }

            Assert.Equal(message, echoed);
            return client;
        }));

        // Every connection is open and idle, its echo read and sent: not one block is held.
        await Poll.UntilAsync(() => _pool.Outstanding == 0);
        foreach (var client in clients)
        {
            client.Dispose();
        }

        await accepting.WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_reader_that_does_not_read_leaves_the_data_in_the_socket()
    {
        var (client, connection) = await ConnectAsync();
        await using var _ = connection;
        using var __ = client;
        client.Blocking = false;

        // The client sends until its socket takes no more: the server has read nothing and holds no buffer for it.
        var chunk = new byte[64 * 1024];
        long sent = 0;
        while (client.Send(chunk, SocketFlags.None, out var error) is var n && error == SocketError.Success)
        {
            sent += n;
        }

        Assert.True(sent > 0);
        Assert.Equal(0, _pool.Outstanding);

        // Reading takes it all, a block at a time, in order.
        var input = connection.Transport.Input;
        long read = 0;
        while (read < sent)
        {
            var result = await input.ReadAsync().AsTask().WaitAsync(Timeout);
            read += result.Buffer.Length;
            input.AdvanceTo(result.Buffer.End);
        }

        Assert.Equal(sent, read);
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public async Task A_slow_reader_holds_the_writer_back_and_gets_every_byte_in_order()
    {
        var (client, connection) = await ConnectAsync(receiveBuffer: 4096);
        await using var _ = connection;
        using var __ = client;
        var output = connection.Transport.Output;

        // Write until a flush has to wait: the client reads nothing, so the socket's buffers fill.
        long written = 0;
        ValueTask<FlushResult> flush;
        do
        {
            var span = output.GetSpan(16 * 1024)[..(16 * 1024)];
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = (byte)(written + i);
            }

            output.Advance(span.Length);
            written += span.Length;
            flush = output.FlushAsync();
            Assert.True(written < 256 * 1024 * 1024, "the flush never waited");
        }
        while (flush.IsCompleted);

        // A waiting flush can be cancelled (the broker does so for a stuck client); the bytes still go.
        output.CancelPendingFlush();
        Assert.True((await flush.AsTask().WaitAsync(Timeout)).IsCanceled);

        var received = new byte[64 * 1024];
        long total = 0;
        while (total < written)
        {
            var n = await client.ReceiveAsync(received.AsMemory()).AsTask().WaitAsync(Timeout);
            Assert.True(n > 0);
            for (var i = 0; i < n; i++)
            {
                Assert.Equal((byte)(total + i), received[i]);
            }

            total += n;
        }

        Assert.Equal(written, total);
        await Poll.UntilAsync(() => _pool.Outstanding == 0);
    }

    [Fact]
    public async Task Disposing_closes_the_socket_after_what_was_written()
    {
        var (client, connection) = await ConnectAsync();
        using var _ = client;
        var output = connection.Transport.Output;
        await output.WriteAsync(new byte[] { 0x20, 0x02, 0, 0 });
        await output.CompleteAsync();
        await connection.Transport.Input.CompleteAsync();
        await connection.DisposeAsync();

        var received = new byte[8];
        var n = await client.ReceiveAsync(received.AsMemory()).AsTask().WaitAsync(Timeout);
        Assert.Equal(new byte[] { 0x20, 0x02, 0, 0 }, received[..n]);
        Assert.Equal(0, await client.ReceiveAsync(received.AsMemory()).AsTask().WaitAsync(Timeout));
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public async Task A_read_waiting_on_an_idle_connection_ends_when_the_client_closes()
    {
        var (client, connection) = await ConnectAsync();
        await using var _ = connection;
        var input = connection.Transport.Input;
        var closed = new TaskCompletionSource();
        connection.ConnectionClosed.Register(closed.SetResult);

        var waiting = input.ReadAsync();
        Assert.False(waiting.IsCompleted);
        client.Shutdown(SocketShutdown.Send);
        client.Dispose();

        var result = await waiting.AsTask().WaitAsync(Timeout);
        Assert.True(result.IsCompleted);
        Assert.True(result.Buffer.IsEmpty);
        await closed.Task.WaitAsync(Timeout);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Closing_while_a_read_waits_with_a_block_gives_the_block_back(bool abort)
    {
        var (client, connection) = await ConnectAsync();
        using var _ = client;
        var input = connection.Transport.Input;
        var waiting = await WaitWithHalfAPacketAsync(client, input);

        // Aborted, the read fails; ended as Kestrel ends a connection (input completed, then disposed), it is never answered.
        if (abort)
        {
            connection.Abort(new ConnectionAbortedException("stopping"));
            await Assert.ThrowsAsync<ConnectionAbortedException>(() => waiting.WaitAsync(Timeout));
        }

        await input.CompleteAsync();
        await connection.DisposeAsync();
        await Poll.UntilAsync(() => _pool.Outstanding == 0);
        Assert.Equal(abort, waiting.IsCompleted);
    }

    [Fact]
    public async Task Connections_after_others_closed_take_their_places_and_each_gets_only_its_own_bytes()
    {
        const int count = 100;
        for (var round = 0; round < 3; round++)
        {
            var pairs = new List<(Socket Client, ConnectionContext Connection, Task<ReadResult> Waiting)>();
            for (var i = 0; i < count; i++)
            {
                var (client, connection) = await ConnectAsync();
                var waiting = connection.Transport.Input.ReadAsync().AsTask();
                Assert.False(waiting.IsCompleted);
                pairs.Add((client, connection, waiting));
            }

            // Sent in the reverse order of the waits, each connection's bytes tell whose they are.
            for (var i = count - 1; i >= 0; i--)
            {
                await pairs[i].Client.SendAsync(new byte[] { (byte)round, (byte)i, 0xAB });
            }

            for (var i = 0; i < count; i++)
            {
                var input = pairs[i].Connection.Transport.Input;
                var result = await pairs[i].Waiting.WaitAsync(Timeout);
                while (result.Buffer.Length < 3)
                {
                    input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                    result = await input.ReadAsync().AsTask().WaitAsync(Timeout);
                }

                Assert.Equal(new byte[] { (byte)round, (byte)i, 0xAB }, result.Buffer.ToArray());
                input.AdvanceTo(result.Buffer.End);
            }

            foreach (var (client, connection, _) in pairs)
            {
                await connection.Transport.Input.CompleteAsync();
                await connection.DisposeAsync();
                client.Dispose();
            }
        }

        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public async Task A_slot_of_the_poller_given_back_answers_no_more_to_its_old_token()
    {
        var poll = SocketCalls.Poll;
        Assert.Equal(OperatingSystem.IsLinux(), poll is not null);
        if (poll is null)
        {
            return;
        }

        var (first, second) = (await ConnectAsync(), await ConnectAsync());
        await using var _ = first.Connection;
        await using var __ = second.Connection;
        using var ___ = first.Client;
        using var ____ = second.Client;
        var (a, b) = ((SocketInput)first.Connection.Transport.Input, (SocketInput)second.Connection.Transport.Input);

        var token = poll.Register(a);
        Assert.NotEqual(0UL, token);
        Assert.Same(a, poll.Find(token));
        poll.Free(token);
        Assert.Null(poll.Find(token));

        var next = poll.Register(b);
        Assert.NotEqual(token, next);
        Assert.Null(poll.Find(token));
        Assert.Same(b, poll.Find(next));
        poll.Free(token);
        Assert.Same(b, poll.Find(next));
        poll.Free(next);
        Assert.Null(poll.Find(next));
    }

    /// <summary>
    /// On Linux the listener waits in our epoll poller and accepts on its descriptor: .NET's accept would give the listening
    /// socket a <c>SocketAsyncContext</c>, whose edge-triggered registration woke .NET's socket thread for every connection
    /// that arrived (issue 19). Connections that arrived together are each taken at once; one that comes later ends a waiting
    /// accept; every accepted socket has <c>TCP_NODELAY</c>, set once on the listener.
    /// </summary>
    [Fact]
    public async Task Connections_are_accepted_without_dotnets_socket_engine_on_linux()
    {
        const int count = 32;
        var clients = new List<Socket>();
        var connections = new List<ConnectionContext>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(_listener!.EndPoint).WaitAsync(Timeout);
            }

            // The kernel completed every handshake: each accept takes a waiting connection.
            for (var i = 0; i < count; i++)
            {
                connections.Add((await _listener!.AcceptAsync().AsTask().WaitAsync(Timeout))!);
            }

            var waiting = _listener!.AcceptAsync().AsTask();
            Assert.False(waiting.IsCompleted);
            var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            clients.Add(late);
            await late.ConnectAsync(_listener.EndPoint).WaitAsync(Timeout);
            connections.Add((await waiting.WaitAsync(Timeout))!);

            Assert.Equal(clients.Select(client => client.LocalEndPoint), connections.Select(connection => connection.RemoteEndPoint));
            Assert.All(connections, connection =>
            {
                var socket = ((MqttSocketConnection)connection).Socket;
                Assert.True(socket.NoDelay);
                Assert.True(socket.Connected);
                Assert.Equal(AddressFamily.InterNetwork, socket.AddressFamily);
                Assert.Equal(_listener.EndPoint, connection.LocalEndPoint);
            });
            if (OperatingSystem.IsLinux())
            {
                var listener = Assert.IsType<PolledListener>(_listener);
                Assert.Null(AsyncContextOf(listener.Socket));

                // Made as .NET's accept makes a socket, not by the constructor that asks the system for everything.
                Assert.True(PolledListener.WrapsLikeDotNet);
            }
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }

            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>
    /// On Linux the host's listeners defer accepting (TCP_DEFER_ACCEPT): a client that has sent its first bytes is accepted
    /// with them there to read, a silent one only at the end of the deferral (it is still accepted, so the broker's connect
    /// timeout closes it).
    /// </summary>
    [Fact]
    public async Task A_deferring_listener_accepts_a_client_with_its_first_bytes_there_and_a_silent_one_only_after_the_deferral()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using var transport = new MqttSocketTransport(_pool);
        await using var listener = await transport.BindAsync(new MqttEndPoint(IPAddress.Loopback, 0));
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var speaking = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var started = TimeProvider.System.GetTimestamp();
        await silent.ConnectAsync(listener.EndPoint).WaitAsync(Timeout);
        await speaking.ConnectAsync(listener.EndPoint).WaitAsync(Timeout);
        await speaking.SendAsync(new byte[] { 0xC0, 0x00 });

        var accepted = new List<(ConnectionContext Connection, TimeSpan At)>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var connection = (await listener.AcceptAsync().AsTask().WaitAsync(Timeout))!;
                accepted.Add((connection, TimeProvider.System.GetElapsedTime(started)));
            }

            var (first, _) = accepted.Single(pair => pair.Connection.RemoteEndPoint!.Equals(speaking.LocalEndPoint));
            var read = first.Transport.Input.ReadAsync();
            Assert.True(read.IsCompleted, "the first bytes were not there when the connection was accepted");
            Assert.Equal(new byte[] { 0xC0, 0x00 }, (await read).Buffer.ToArray());

            // The kernel answers a silent client's handshake at once and retransmits its SYN-ACK after about a second.
            var (_, silentAt) = accepted.Single(pair => pair.Connection.RemoteEndPoint!.Equals(silent.LocalEndPoint));
            Assert.True(silentAt >= TimeSpan.FromSeconds(0.9), $"the silent client was accepted after {silentAt}, within the deferral");
        }
        finally
        {
            foreach (var (connection, _) in accepted)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_waiting_accept_ends_without_a_connection_when_the_listener_is_unbound()
    {
        var waiting = _listener!.AcceptAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        await _listener.UnbindAsync();
        Assert.Null(await waiting.WaitAsync(Timeout));
        Assert.Null(await _listener.AcceptAsync().AsTask().WaitAsync(Timeout));
    }

    /// <summary>
    /// .NET keeps a socket's asynchronous state (its registration with .NET's epoll engine, operation queues and locks) in
    /// a <c>SocketAsyncContext</c> that the socket's handle makes on the first asynchronous operation or non-blocking
    /// setting. On Linux a connection that has received, sent and now waits for more has none; elsewhere its zero-byte
    /// receive makes one.
    /// </summary>
    [Fact]
    public async Task A_connection_waiting_for_data_has_no_socket_async_context_on_linux()
    {
        const int count = 20;
        var pairs = new List<(Socket Client, ConnectionContext Connection, Task<ReadResult> Waiting)>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var (client, connection) = await ConnectAsync();
                var (input, output) = (connection.Transport.Input, connection.Transport.Output);
                await client.SendAsync(new byte[] { 0xC0, 0x00 });
                var ping = await input.ReadAsync().AsTask().WaitAsync(Timeout);
                input.AdvanceTo(ping.Buffer.End);
                await output.WriteAsync(new byte[] { 0xD0, 0x00 }).AsTask().WaitAsync(Timeout);
                var answer = new byte[2];
                Assert.Equal(2, await client.ReceiveAsync(answer.AsMemory()).AsTask().WaitAsync(Timeout));
                pairs.Add((client, connection, input.ReadAsync().AsTask()));
            }

            var withContext = pairs.Count(pair => AsyncContextOf(((MqttSocketConnection)pair.Connection).Socket) is not null);
            Assert.All(pairs, pair => Assert.False(pair.Waiting.IsCompleted));
            Assert.Equal(OperatingSystem.IsLinux() ? 0 : count, withContext);

            // Still woken by their data.
            foreach (var (client, connection, waiting) in pairs)
            {
                await client.SendAsync(new byte[] { 0xC0, 0x00 });
                Assert.Equal(new byte[] { 0xC0, 0x00 }, (await waiting.WaitAsync(Timeout)).Buffer.ToArray());
            }
        }
        finally
        {
            foreach (var (client, connection, _) in pairs)
            {
                await connection.DisposeAsync();
                client.Dispose();
            }
        }
    }

    /// <summary>Half a packet is read and examined, so the input holds a block, and the next read waits for the rest.</summary>
    private async Task<Task<ReadResult>> WaitWithHalfAPacketAsync(Socket client, PipeReader input)
    {
        await client.SendAsync(new byte[] { 0x30, 0x0A, 0 });
        var partial = await input.ReadAsync().AsTask().WaitAsync(Timeout);
        input.AdvanceTo(partial.Buffer.Start, partial.Buffer.End);
        var waiting = input.ReadAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, _pool.Outstanding);
        return waiting;
    }

    /// <summary>The <c>SocketAsyncContext</c> .NET keeps for a socket, or null when it made none.</summary>
    private static object? AsyncContextOf(Socket socket)
    {
        const string AsyncContextField = "_asyncContext";
        var asyncContext = typeof(SafeSocketHandle).GetField(AsyncContextField, BindingFlags.NonPublic | BindingFlags.Instance);
        Assert.True(asyncContext is not null, $"SafeSocketHandle has no field {AsyncContextField} any more: find where .NET keeps a socket's async context");
        return asyncContext.GetValue(socket.SafeHandle);
    }

    private async Task<(Socket Client, ConnectionContext Connection)> ConnectAsync(int receiveBuffer = 0)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (receiveBuffer > 0)
        {
            client.ReceiveBufferSize = receiveBuffer;
        }

        var accepting = _listener!.AcceptAsync().AsTask();
        await client.ConnectAsync(_listener.EndPoint).WaitAsync(Timeout);
        return (client, (await accepting.WaitAsync(Timeout))!);
    }

    private static async Task EchoAsync(ConnectionContext connection)
    {
        await using var _ = connection;
        var (input, output) = (connection.Transport.Input, connection.Transport.Output);
        while (true)
        {
            var result = await input.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                await output.WriteAsync(segment);
            }

            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return;
            }
        }
    }

    private sealed class ItemsFeature : IConnectionItemsFeature
    {
        public IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    }

    /// <summary>The transport's pool, counting the blocks handed out and not returned.</summary>
    private sealed class CountingPool : IMemoryPoolFactory<byte>
    {
        private int _outstanding;

        public int Outstanding => Volatile.Read(ref _outstanding);

        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new Pool(this);

        private sealed class Pool(CountingPool counts) : MemoryPool<byte>
        {
            public override int MaxBufferSize => 64 * 1024;

            public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
            {
                Interlocked.Increment(ref counts._outstanding);
                return new Block(counts);
            }

            protected override void Dispose(bool disposing)
            {
            }
        }

        private sealed class Block(CountingPool counts) : IMemoryOwner<byte>
        {
            private int _returned;

            public Memory<byte> Memory { get; } = new byte[64 * 1024];

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _returned, 1) == 0)
                {
                    Interlocked.Decrement(ref counts._outstanding);
                }
            }
        }
    }
}
