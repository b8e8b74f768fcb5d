using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Tests.Support;

/// <summary>Keeps every line the broker logs, for tests of what is logged and how often.</summary>
internal sealed class CapturingLogger : ILogger<MqttBroker>
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IEnumerable<string> Lines => _lines;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _lines.Enqueue(formatter(state, exception));
}
