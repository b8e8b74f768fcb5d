using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Tests.Support;

/// <summary>A logger that keeps every entry: level, event id, message and exception.</summary>
internal sealed class CapturingLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IEnumerable<LogEntry> Entries => _entries;

    public IEnumerable<string> Lines => _entries.Select(static e => e.Message);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue(new LogEntry(logLevel, eventId.Id, formatter(state, exception), exception));
}

internal sealed record LogEntry(LogLevel Level, int EventId, string Message, Exception? Exception);
