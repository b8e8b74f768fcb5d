using Microsoft.Extensions.Options;

namespace IoTHub.Web.Configuration.Mosquitto;

/// <summary>
/// Stops the start when the imported mosquitto.conf cannot be read or asks for what cannot be honoured (each problem named
/// by file and line, with the other bad settings), and logs every directive it did not take as the host starts.
/// </summary>
internal sealed partial class MosquittoImportCheck(IConfiguration configuration, ILogger<MosquittoImportCheck> logger)
    : IValidateOptions<MosquittoImportCheck.Marker>, IHostedService
{
    public static void Register(IServiceCollection services)
    {
        services.AddSingleton<MosquittoImportCheck>();
        services.AddSingleton<IValidateOptions<Marker>>(static s => s.GetRequiredService<MosquittoImportCheck>());
        services.AddHostedService(static s => s.GetRequiredService<MosquittoImportCheck>());
        services.AddOptions<Marker>().ValidateOnStart();
    }

    public ValidateOptionsResult Validate(string? name, Marker options) =>
        MosquittoConfigurationSource.Current(configuration) is { Problems.Count: > 0 } import
            ? ValidateOptionsResult.Fail(import.Problems)
            : ValidateOptionsResult.Success;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (MosquittoConfigurationSource.Current(configuration) is { } import)
        {
            Imported(logger, import.Path, import.Settings.Count, import.NotTaken.Count);
            foreach (var d in import.NotTaken)
            {
                NotTaken(logger, d.File, d.Line, d.Directive, d.Reason);
            }
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information,
        Message = "Mosquitto configuration {Path}: {Settings} settings taken, {NotTaken} directives not taken (GET /api/v1/config/effective lists both)")]
    private static partial void Imported(ILogger logger, string path, int settings, int notTaken);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "{File}:{Line}: {Directive} is not taken: {Reason}")]
    private static partial void NotTaken(ILogger logger, string file, int line, string directive, string reason);

    /// <summary>What the check validates: nothing of its own, it reads the imported file.</summary>
    internal sealed class Marker;
}
