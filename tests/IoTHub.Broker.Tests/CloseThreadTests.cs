using System.Buffers;
using System.IO.Pipelines;
using IoTHub.Broker.Tests.Support;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// A connection that ends ends on the thread that read its end (issue 19): its last write round and the completion of its
/// transport run there, not on the thread pool after two hand-offs. The input here is a pipe whose reader goes on inline in
/// the writer's flush, as the socket transport's reads go on in its readiness thread.
/// </summary>
public sealed class CloseThreadTests : IAsyncLifetime
{
    // 3.1.1 CONNECT, Clean Session, keep-alive 60, client id "a"; then DISCONNECT.
    private static readonly byte[] Connect = [0x10, 0x0D, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, (byte)'a'];
    private static readonly byte[] Disconnect = [0xE0, 0x00];

    private readonly MqttBroker _broker = TestBroker.Start();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    /// <summary>
    /// Handed to the thread pool, the last round could sometimes end before the close waited for it, so one connection
    /// proves little: every one of 20 must end on its reading thread.
    /// </summary>
    [Fact]
    public async Task A_disconnect_is_closed_on_the_thread_that_read_it()
    {
        for (var i = 0; i < 20; i++)
        {
            var toBroker = new Pipe(new PipeOptions(readerScheduler: PipeScheduler.Inline, useSynchronizationContext: false));
            var fromBroker = new Pipe();
            var output = new CompletionWatch(fromBroker.Writer);
            var served = _broker.HandleConnectionAsync(new DuplexPipe(toBroker.Reader, output), PipeClient.Connection);

            // The reading thread: each flush runs the connection's read inline, and returns once it waits for more.
            var reading = 0;
            var fed = new TaskCompletionSource<Task[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            var feeder = new Thread(() =>
            {
                reading = Environment.CurrentManagedThreadId;
                toBroker.Writer.Write(Connect);
                var first = toBroker.Writer.FlushAsync().AsTask();
                toBroker.Writer.Write(Disconnect);
                fed.SetResult([first, toBroker.Writer.FlushAsync().AsTask()]);
            }) { IsBackground = true };
            feeder.Start();
            await Task.WhenAll(await fed.Task.WaitAsync(PipeClient.Timeout)).WaitAsync(PipeClient.Timeout);
            await served.WaitAsync(PipeClient.Timeout);

            var answer = await fromBroker.Reader.ReadAsync().AsTask().WaitAsync(PipeClient.Timeout);
            Assert.Equal(0x20, answer.Buffer.FirstSpan[0]);
            Assert.True(reading == output.CompletedOn, $"connection {i}: read on thread {reading}, closed on thread {output.CompletedOn}");
        }
    }

    /// <summary>A writer that says on which thread it was completed.</summary>
    private sealed class CompletionWatch(PipeWriter inner) : PipeWriter
    {
        public int CompletedOn { get; private set; }

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override void Complete(Exception? exception = null)
        {
            CompletedOn = Environment.CurrentManagedThreadId;
            inner.Complete(exception);
        }
    }
}
