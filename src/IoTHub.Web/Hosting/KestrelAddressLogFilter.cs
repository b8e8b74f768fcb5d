namespace IoTHub.Web.Hosting;

/// <summary>
/// The logger factory without the web host's "Now listening on: http://..." lines (Microsoft.Hosting.Lifetime, event 14): the
/// server's address list names every Kestrel endpoint http://, MQTT ones (tcp, tls, Unix sockets) included. The lines of
/// <see cref="HttpListener"/> name each listener with its own scheme instead. Every other logger is the factory's own.
/// </summary>
internal sealed class KestrelAddressLogFilter(ILoggerFactory factory) : ILoggerFactory
{
    private const string LifetimeCategory = "Microsoft.Hosting.Lifetime";
    private static readonly EventId ListeningOnAddress = new(14, "ListeningOnAddress");

    public ILogger CreateLogger(string categoryName) =>
        categoryName == LifetimeCategory ? new WithoutAddresses(factory.CreateLogger(categoryName)) : factory.CreateLogger(categoryName);

    public void AddProvider(ILoggerProvider provider) => factory.AddProvider(provider);

    public void Dispose() => factory.Dispose();

    private sealed class WithoutAddresses(ILogger logger) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => logger.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logger.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId != ListeningOnAddress)
            {
                logger.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
