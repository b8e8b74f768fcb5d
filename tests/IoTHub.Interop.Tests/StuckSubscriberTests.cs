using System.Buffers.Binary;
using System.Buffers;
using System.Diagnostics;
using IoTHub.Testing;
using MQTTnet.Protocol;
using MQTTnet;
using Xunit.Abstractions;

namespace IoTHub.Interop.Tests;

/// <summary>
/// A subscriber that stops reading must not slow down the others (DESIGN §2.5): its queue overflows and
/// is trimmed, and once its connection has accepted no data for Mqtt:StuckClientTimeout the broker closes
/// it. The stuck subscriber really stops: a mosquitto_sub frozen with SIGSTOP, or a raw socket with a
/// tiny receive buffer that never reads (loopback buffers would otherwise swallow megabytes).
/// </summary>
public sealed class StuckSubscriberTests(StuckSubscriberTests.Host fixture, ITestOutputHelper output) : IClassFixture<StuckSubscriberTests.Host>
{
    private const int PayloadSize = 1024;
    private const int BatchSize = 200;

    /// <summary>Enough to fill the stuck connection's socket buffers (a few MB on loopback) several times over.</summary>
    private const long MinimumBytes = 8L * 1024 * 1024;

    /// <summary>
    /// How long the stuck subscriber may stay connected while messages flow: the 1 s timeout, the broker's
    /// one-second monitor tick that checks it, and room for a loaded machine. A bound in time, not bytes: a
    /// fast machine pushes 96 MB through before the first second is up.
    /// </summary>
    private static readonly TimeSpan MaximumWait = TimeSpan.FromSeconds(15);

    public enum StuckClient
    {
        MosquittoSubStopped,
        RawSocketNeverReading,
    }

    [Theory]
    [InlineData(StuckClient.MosquittoSubStopped)]
    [InlineData(StuckClient.RawSocketNeverReading)]
    public async Task Stuck_subscriber_is_disconnected_while_a_fast_one_gets_every_message(StuckClient kind)
    {
        var host = fixture.Interop;
        var topic = $"stuck/{kind}";
        var stuckId = $"stuck-{kind}";
        var stuckBefore = host.Broker.Statistics.StuckClientsDisconnected;

        await using var fast = await FastSubscriber.ConnectAsync(host, $"fast-{kind}", topic);
        ChildProcess? mosquitto = null;
        RawMqttClient? raw = null;
        try
        {
            if (kind == StuckClient.MosquittoSubStopped)
            {
                mosquitto = Mosquitto.SubscribeWith(host, Protocol.V311, "-i", stuckId, "-q", "0", "-t", topic);
                await Mosquitto.WaitUntilSubscribedAsync(mosquitto);
                await mosquitto.SuspendAsync();
            }
            else
            {
                (raw, _) = await RawMqttClient.ConnectAsync(host.Endpoint, Protocol.V311, stuckId, receiveBufferSize: 4096);
                await raw.SubscribeAsync(topic, 0);

                // From here on nothing is read from it.
            }

            await using var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V500, $"stuck-publisher-{kind}");
            var payload = new byte[PayloadSize];
            var clock = Stopwatch.StartNew();
            var sent = 0;
            var stuckClosed = false;
            while (!stuckClosed || (long)sent * PayloadSize < MinimumBytes)
            {
                Assert.True(stuckClosed || clock.Elapsed < MaximumWait,
                    $"{sent} messages ({sent * (long)PayloadSize / (1024 * 1024)} MB) in {clock.Elapsed} and the stuck subscriber is still connected");

                for (var i = 0; i < BatchSize; i++, sent++)
                {
                    BinaryPrimitives.WriteInt32BigEndian(payload, sent);
                    await publisher.Client.PublishBinaryAsync(topic, payload, MqttQualityOfServiceLevel.AtMostOnce);
                }

                // The fast subscriber confirms each batch before the next: a broker that let the stuck one hold
                // up delivery would fail here, and its queue never holds more than a batch.
                await fast.WaitForAsync(sent);
                if (!stuckClosed && host.Broker.Statistics.StuckClientsDisconnected > stuckBefore)
                {
                    stuckClosed = true;
                    output.WriteLine($"stuck client disconnected after {sent} messages ({sent * (long)PayloadSize / (1024 * 1024)} MB), {clock.Elapsed}");
                }
            }

            output.WriteLine($"{sent} messages ({sent * (long)PayloadSize / (1024 * 1024)} MB) in {clock.Elapsed}; {host.Broker.Statistics.MessagesDropped} dropped in all");

            Assert.Equal(sent, fast.Received);
            Assert.True(fast.InOrder, "the fast subscriber got messages out of order or twice");
            await host.WaitUntilOfflineAsync(stuckId, TimeSpan.FromSeconds(5));
            if (raw is not null)
            {
                // On the wire: whatever was buffered, then the end of the connection.
                Assert.True(await raw.WaitForCloseAsync(TimeSpan.FromSeconds(20)), "the stuck client's connection was not closed");
            }
        }
        finally
        {
            mosquitto?.Dispose(); // SIGKILL, which also ends a stopped process
            raw?.Dispose();
        }
    }

    /// <summary>A host that calls a client stuck after one second without progress, with room for a few batches per queue.</summary>
    public sealed class Host : IDisposable
    {
        public InteropHost Interop { get; } = new(new Dictionary<string, string>
        {
            ["Mqtt:StuckClientTimeout"] = "00:00:01",
            ["Mqtt:MaximumQueuedMessages"] = "1000",
        });

        public void Dispose() => Interop.Dispose();
    }

    /// <summary>An MQTTnet subscriber that only counts, checking that message n carries sequence number n, with socket buffers as large as a fast reader's.</summary>
    private sealed class FastSubscriber : IAsyncDisposable
    {
        private readonly IMqttClient _client;
        private int _received;
        private int _outOfOrder;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private FastSubscriber(IMqttClient client) => _client = client;

        public int Received => Volatile.Read(ref _received);

        public bool InOrder => Volatile.Read(ref _outOfOrder) == 0;

        public static async Task<FastSubscriber> ConnectAsync(InteropHost host, string clientId, string topic)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            var subscriber = new FastSubscriber(client);
            client.ApplicationMessageReceivedAsync += subscriber.OnMessageAsync;
            var options = new MqttClientOptionsBuilder().WithTcpServer(host.Host, host.Port).WithClientId(clientId).Build();

            // MQTTnet sets the socket's buffers to 8 KB by default, which turns off TCP window scaling: on Linux the
            // receive window then stays below twice the sender's segment size, the kernel holds full segments back
            // and only its persist timer (backing off to seconds) moves the stream on. Measured: 6.6 s stalls per
            // batch with 8 KB, none in 15 s at 60 000 msgs/s with 1 MB, with or without a stuck subscriber.
            ((MqttClientTcpOptions)options.ChannelOptions).BufferSize = 1 << 20;
            await client.ConnectAsync(options);
            await client.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtMostOnce);
            return subscriber;
        }

        public async Task WaitForAsync(int count)
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (Received < count)
            {
                var changed = Volatile.Read(ref _changed).Task;
                if (Received >= count)
                {
                    break;
                }

                try
                {
                    await changed.WaitAsync(cancel.Token);
                }
                catch (OperationCanceledException)
                {
                    throw new TimeoutException($"the fast subscriber has {Received} of {count} messages after 10 s");
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _client.TryDisconnectAsync();
            _client.Dispose();
        }

        private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
        {
            Span<byte> head = stackalloc byte[4];
            e.ApplicationMessage.Payload.Slice(0, 4).CopyTo(head);
            var sequence = BinaryPrimitives.ReadInt32BigEndian(head);
            if (sequence != _received)
            {
                Interlocked.Increment(ref _outOfOrder);
            }

            Volatile.Write(ref _received, _received + 1);
            Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            return Task.CompletedTask;
        }
    }
}
