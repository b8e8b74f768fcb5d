using IoTHub.Web.Configuration;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Storage;

/// <summary>Creates the data directory at start, before anything needs it.</summary>
internal static partial class DataDirectory
{
    public static IServiceCollection AddDataDirectory(this IServiceCollection services) =>
        services.AddHostedService<Creator>();

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Data directory {Path}")]
    private static partial void LogDataDirectory(ILogger logger, string path);

    private sealed class Creator(IOptions<StorageOptions> storage, IHostEnvironment environment, ILogger<Creator> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            string path = Path.GetFullPath(storage.Value.DataDirectory, environment.ContentRootPath);
            try
            {
                Directory.CreateDirectory(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Reported like a bad value: the setting names a folder the host cannot use.
                throw new OptionsValidationException(StorageOptions.SectionName, typeof(StorageOptions),
                    [$"{StorageOptions.SectionName}:{nameof(StorageOptions.DataDirectory)} '{path}' cannot be created: {e.Message}"]);
            }

            LogDataDirectory(logger, path);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
