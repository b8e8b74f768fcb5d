using System.Text.Json;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Hosting;

/// <summary>
/// <c>Logging:Format</c> picks how the console writes log records: <c>simple</c> (the default, the framework's plain
/// lines) or <c>json</c>, one JSON object a line (UTC timestamp, level, category, event id, message and the message's
/// named values) for log shippers. Any other value stops the start, as a bad value of our own sections does.
/// Logging scopes are captured only when the console is asked to write them
/// (<c>Logging:Console:FormatterOptions:IncludeScopes</c>): Kestrel opens one for every connection it serves, and
/// captured it costs about 220 bytes for as long as the connection lives (the scope, its holder and the execution
/// context that carries it), for lines that by default never show it.
/// </summary>
internal static class LogFormat
{
    public const string Key = "Logging:Format";

    private const string IncludeScopesKey = "Logging:Console:FormatterOptions:IncludeScopes";

    public static WebApplicationBuilder AddLogFormat(this WebApplicationBuilder builder)
    {
        if (string.Equals(builder.Configuration[Key], "json", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.AddJsonConsole(static options =>
            {
                options.UseUtcTimestamp = true;
                options.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
                options.JsonWriterOptions = new JsonWriterOptions { Indented = false };
            });
        }

        var includeScopes = bool.TryParse(builder.Configuration[IncludeScopesKey], out var include) && include;
        builder.Services.Configure<LoggerFilterOptions>(options => options.CaptureScopes = includeScopes);

        builder.Services.AddSingleton<IValidateOptions<Marker>, Check>();
        builder.Services.AddOptions<Marker>().ValidateOnStart();
        return builder;
    }

    /// <summary>Refuses a format the console has not.</summary>
    private sealed class Check(IConfiguration configuration) : IValidateOptions<Marker>
    {
        public ValidateOptionsResult Validate(string? name, Marker options)
        {
            var format = configuration[Key];
            return format is null || string.Equals(format, "simple", StringComparison.OrdinalIgnoreCase) || string.Equals(format, "json", StringComparison.OrdinalIgnoreCase)
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"{Key} '{format}' is not a log format: use simple (the default) or json.");
        }
    }

    /// <summary>What the check validates: nothing of its own, it reads the one key.</summary>
    internal sealed class Marker;
}
