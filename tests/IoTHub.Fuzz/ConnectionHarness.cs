using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Messages;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.Logging;

namespace IoTHub.Fuzz;

/// <summary>
/// A real broker's connection state machine fed one input as the byte stream of up to <see cref="MaximumConnections"/>
/// connections, one after the other, to a fresh broker (so an input always does the same). The parts are separated by
/// <see cref="Separator"/>; the first byte of the input says how long the writes the stream is cut into are (0: one write).
/// Between two connections the server publishes a QoS 2 message to <c>fuzz/1</c>, so a resumed session may find queued
/// and in-flight messages. The rules checked: each connection ends by itself within <see cref="Timeout"/> once its stream
/// has ended, the broker logs no error (its own faults are logged as errors; a client's faults are not), and everything
/// the broker sends decodes as packets of the client's protocol version.
/// </summary>
public static class ConnectionHarness
{
    public const int MaximumConnections = 3;

    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>Ends one connection's bytes and starts the next one's.</summary>
    public static ReadOnlySpan<byte> Separator => "\xFF\xFEnext"u8;

    /// <summary>Runs one input; returns the types of the packets the broker sent, per connection.</summary>
    public static List<List<PacketType>> Run(ReadOnlySpan<byte> input) => RunAsync(input.ToArray()).GetAwaiter().GetResult();

    private static async Task<List<List<PacketType>>> RunAsync(byte[] input)
    {
        List<List<PacketType>> sent = [];
        if (input.Length < 1)
        {
            return sent;
        }

        var errors = new ErrorLog();
        var broker = new MqttBroker(new BrokerOptions(), errors);
        broker.Start();
        try
        {
            var writeLength = input[0] == 0 ? int.MaxValue : input[0];
            ReadOnlyMemory<byte> rest = input.AsMemory(1);
            for (var part = 0; part < MaximumConnections && !rest.IsEmpty; part++)
            {
                var end = part + 1 < MaximumConnections ? rest.Span.IndexOf(Separator) : -1;
                var stream = end < 0 ? rest : rest[..end];
                rest = end < 0 ? ReadOnlyMemory<byte>.Empty : rest[(end + Separator.Length)..];
                sent.Add(await ServeAsync(broker, stream, writeLength, part).ConfigureAwait(false));
                errors.ThrowIfAny();
                broker.Publish(MqttMessage.Create("fuzz/1", "between connections"u8, QualityOfService.ExactlyOnce, retain: part == 0));
            }
        }
        finally
        {
            await broker.DisposeAsync().ConfigureAwait(false);
        }

        errors.ThrowIfAny();
        return sent;
    }

    private static async Task<List<PacketType>> ServeAsync(MqttBroker broker, ReadOnlyMemory<byte> stream, int writeLength, int part)
    {
        var toBroker = new Pipe();
        var fromBroker = new Pipe();
        var served = broker.HandleConnectionAsync(new DuplexPipe(toBroker.Reader, fromBroker.Writer),
            new ConnectionInfo("fuzz", TransportKind.Tcp, null, new IPEndPoint(IPAddress.Loopback, 40_000 + part)));
        var received = ReadAllAsync(fromBroker.Reader);
        for (var start = 0; start < stream.Length; start += writeLength)
        {
            var result = await toBroker.Writer.WriteAsync(stream[start..Math.Min(stream.Length, start + writeLength)]).ConfigureAwait(false);
            if (result.IsCompleted)
            {
                break; // the broker closed the connection
            }
        }

        await toBroker.Writer.CompleteAsync().ConfigureAwait(false);
        try
        {
            await served.WaitAsync(Timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new FuzzFindingException($"connection {part + 1} did not end within {Timeout.TotalSeconds} s after its stream ended");
        }

        return Decode(ClientVersion(stream.Span), await received.WaitAsync(Timeout).ConfigureAwait(false), part);
    }

    /// <summary>The version of the CONNECT the stream starts with; <see cref="MqttProtocolVersion.Unknown"/> when it does not start with one.</summary>
    private static MqttProtocolVersion ClientVersion(ReadOnlySpan<byte> stream)
    {
        var buffer = new ReadOnlySequence<byte>(stream.ToArray());
        return MqttDecoder.TryDecode(ref buffer, MqttProtocolVersion.Unknown, int.MaxValue, out var packet, out _) == DecodeStatus.Packet
            ? ((ConnectPacket)packet.Control!).ProtocolVersion
            : MqttProtocolVersion.Unknown;
    }

    /// <summary>
    /// What the broker sent must be whole packets of the client's version. When the CONNECT did not decode, the broker may
    /// still answer it with a CONNACK of the version it could read (or 3.1.1's, for a version it does not know): then the
    /// output must be whole packets of one of the versions.
    /// </summary>
    private static List<PacketType> Decode(MqttProtocolVersion version, byte[] output, int part)
    {
        MqttProtocolVersion[] candidates = version == MqttProtocolVersion.Unknown
            ? [MqttProtocolVersion.V500, MqttProtocolVersion.V311, MqttProtocolVersion.V310]
            : [version];
        string? failure = null;
        foreach (var readAs in candidates)
        {
            failure = null;
            List<PacketType> types = [];
            var buffer = new ReadOnlySequence<byte>(output);
            while (failure is null && !buffer.IsEmpty)
            {
                if (MqttDecoder.TryDecode(ref buffer, readAs, int.MaxValue, out var packet, out var error) != DecodeStatus.Packet)
                {
                    failure = $"connection {part + 1}: the broker sent bytes that do not decode as {string.Join(" or ", candidates)} packets ({error.Message}); {buffer.Length} of {output.Length} left: {Convert.ToHexString(output.AsSpan((int)(output.Length - buffer.Length)))}";
                }
                else
                {
                    types.Add(packet.Type);
                }
            }

            if (failure is null)
            {
                return types;
            }
        }

        throw new FuzzFindingException(failure!);
    }

    private static async Task<byte[]> ReadAllAsync(PipeReader reader)
    {
        var all = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await reader.ReadAsync().ConfigureAwait(false);
            foreach (var segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                await reader.CompleteAsync().ConfigureAwait(false);
                return all.WrittenSpan.ToArray();
            }
        }
    }

    /// <summary>Keeps the first error the broker logs: its own faults (a connection that failed, a handler that threw) are errors.</summary>
    private sealed class ErrorLog : ILogger<MqttBroker>
    {
        private string? _first;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                Interlocked.CompareExchange(ref _first, $"the broker logged an error: {formatter(state, exception)} {exception}", null);
            }
        }

        public void ThrowIfAny()
        {
            if (Volatile.Read(ref _first) is { } error)
            {
                throw new FuzzFindingException(error);
            }
        }
    }
}
