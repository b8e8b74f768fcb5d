using System.IO.Pipelines;

namespace IoTHub.Testing;

/// <summary>Two pipe ends as the transport a broker connection reads from and writes to: in-memory connections, no sockets.</summary>
public sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}
