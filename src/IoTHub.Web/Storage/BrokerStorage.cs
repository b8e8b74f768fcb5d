using System.Diagnostics.Metrics;
using IoTHub.Broker.Storage;
using IoTHub.Data.Stores;
using IoTHub.Web.Configuration;
using IoTHub.Web.Metrics;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Storage;

/// <summary>
/// Opens the store that <c>Storage:Provider</c> names at start (SQLite migrated, PostgreSQL
/// migrated when <c>Storage:MigrateOnStart</c> says so) with its background writer, and closes
/// both at stop after the writer committed what it still held.
/// </summary>
internal static partial class BrokerStorage
{
    public static IServiceCollection AddBrokerStorage(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<StorageOptions>, ProviderSettingsValidator>();
        services.AddSingleton<BrokerDatabase>();
        services.AddSingleton<OpenStore>();
        services.AddHostedService(static provider => provider.GetRequiredService<OpenStore>());
        services.AddSingleton(static provider => provider.GetRequiredService<OpenStore>().Store);
        services.AddSingleton(static provider => provider.GetRequiredService<OpenStore>().Writer);
        return services;
    }

    [LoggerMessage(EventId = 1110, Level = LogLevel.Information, Message = "Storage {Provider} ({Durability}) at {Location}")]
    private static partial void LogStorageOpened(ILogger logger, StorageProvider provider, StorageDurability durability, string location);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Warning,
        Message = "Storage file: dropped the last {Bytes} bytes of the log in {Location}, a record torn by a crash or a full disk (in strict mode never acknowledged)")]
    private static partial void LogTornRecordDropped(ILogger logger, long bytes, string location);

    /// <summary>The checks that involve more than one key.</summary>
    private sealed class ProviderSettingsValidator : IValidateOptions<StorageOptions>
    {
        public ValidateOptionsResult Validate(string? name, StorageOptions options) =>
            options.Provider == StorageProvider.Postgres && string.IsNullOrWhiteSpace(options.ConnectionString)
                ? ValidateOptionsResult.Fail($"{StorageOptions.SectionName}:{nameof(StorageOptions.ConnectionString)} is required when " +
                    $"{StorageOptions.SectionName}:{nameof(StorageOptions.Provider)} is postgres.")
                : ValidateOptionsResult.Success;
    }

    private sealed class OpenStore(IOptions<StorageOptions> options, IHostEnvironment environment, ILoggerFactory loggers, IMeterFactory meters,
        ILogger<OpenStore> logger)
        : IHostedService, IAsyncDisposable
    {
        private IBrokerStore? _store;
        private StorageWriter? _writer;

        public IBrokerStore Store => _store ?? throw new InvalidOperationException("Storage is opened when the host starts.");

        public StorageWriter Writer => _writer ?? throw new InvalidOperationException("Storage is opened when the host starts.");

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var settings = options.Value;
            var folder = Path.GetFullPath(settings.DataDirectory, environment.ContentRootPath);
            string location;
            try
            {
                switch (settings.Provider)
                {
                    case StorageProvider.Memory:
                        location = "memory";
                        _store = new MemoryBrokerStore();
                        break;
                    case StorageProvider.File:
                        location = Path.Combine(folder, "store");
                        var files = FileBrokerStore.Open(location, settings.Durability);
                        _store = files;
                        if (files.DroppedLogBytes > 0)
                        {
                            LogTornRecordDropped(logger, files.DroppedLogBytes, location);
                        }

                        break;
                    case StorageProvider.Sqlite:
                        location = Path.Combine(folder, SqliteStorage.DefaultFileName);
                        _store = await SqliteStorage.OpenAsync(location, settings.Durability, cancellationToken);
                        break;
                    default:
                        location = "PostgreSQL";
                        _store = await PostgresStorage.OpenAsync(settings.ConnectionString, settings.Durability, settings.MigrateOnStart, cancellationToken);
                        break;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Reported like a bad setting: one plain line naming the store and the reason.
                throw new OptionsValidationException(StorageOptions.SectionName, typeof(StorageOptions),
                    [$"{StorageOptions.SectionName}:{nameof(StorageOptions.Provider)} {settings.Provider.ToString().ToLowerInvariant()} cannot be opened: {e.Message}"]);
            }

            _writer = new StorageWriter(_store, settings.Durability, loggers.CreateLogger<StorageWriter>());
            BrokerMetrics.AddStorage(meters, _writer, settings.Provider);
            LogStorageOpened(logger, settings.Provider, settings.Durability, location);
        }

        public Task StopAsync(CancellationToken cancellationToken) => DisposeAsync().AsTask();

        /// <summary>Commits what the writer holds, then closes the store; also when the host stops without StopAsync.</summary>
        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _writer, null) is { } writer)
            {
                await writer.DisposeAsync();
            }

            if (Interlocked.Exchange(ref _store, null) is { } store)
            {
                await store.DisposeAsync();
            }
        }
    }
}
