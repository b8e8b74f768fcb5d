using System.Globalization;
using IoTHub.Web.Configuration.Mosquitto;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;

namespace IoTHub.Web.Configuration;

/// <summary>One key of our sections as the host reads it.</summary>
/// <param name="Key">The key, e.g. Mqtt:Listeners:mosquitto-8883:Certificate.</param>
/// <param name="Value">The value in force (a default too); "(hidden)" for a secret that is set; null when unset and without default.</param>
/// <param name="Source">Where it came from: "command line", "environment", a JSON file's name, a mosquitto.conf line such as "/etc/mosquitto/mosquitto.conf:12", "host settings", or "default".</param>
internal sealed record EffectiveSetting(string Key, string? Value, string Source);

/// <summary>
/// Collects every key our sections read (through <see cref="SectionReader"/>, so no list of keys is kept twice) with the
/// value in force and the source that set it: the last configuration provider that has it, as the configuration itself
/// decides. Secrets are never shown.
/// </summary>
internal sealed class EffectiveSettings(IConfiguration configuration)
{
    public const string Hidden = "(hidden)";

    public const string Default = "default";

    /// <summary>Keys whose values are secrets (a password, a signing key, a connection string that holds a password).</summary>
    private static readonly HashSet<string> Secrets = new(StringComparer.OrdinalIgnoreCase)
    {
        "SigningKey", "CertificatePassword", "ConnectionString", "Secret", "BindPassword", "Password",
    };

    private readonly Dictionary<string, EffectiveSetting> _settings = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyCollection<EffectiveSetting> Settings => _settings.Values;

    public void Add(string key, string? raw, object? fallback)
    {
        var value = raw ?? Format(fallback);
        var segments = key.Split(':');
        if (!string.IsNullOrEmpty(value) && (Secrets.Contains(segments[^1]) || segments.Contains(OutgoingHttp.HeadersKey, StringComparer.OrdinalIgnoreCase)))
        {
            value = Hidden;
        }

        _settings[key] = new EffectiveSetting(key, value, raw is null ? Default : SourceOf(configuration, key));
    }

    /// <summary>The mosquitto.conf line that set <paramref name="key"/>, when that file is where the value in force comes from.</summary>
    public static string? ImportedOrigin(IConfiguration configuration, string key) =>
        Winner(configuration, key) is MosquittoConfigurationProvider imported ? imported.Origin(key) : null;

    private static string SourceOf(IConfiguration configuration, string key) => Winner(configuration, key) switch
    {
        MosquittoConfigurationProvider imported => imported.Origin(key) ?? Default,
        CommandLineConfigurationProvider => "command line",
        EnvironmentVariablesConfigurationProvider => "environment",
        JsonConfigurationProvider json => Path.GetFileName(json.Source.Path) ?? "JSON file",
        null => Default,
        _ => "host settings",
    };

    /// <summary>The provider whose value is in force: the last one that has the key.</summary>
    private static IConfigurationProvider? Winner(IConfiguration configuration, string key)
    {
        if (configuration is not IConfigurationRoot root)
        {
            return null;
        }

        IConfigurationProvider? winner = null;
        foreach (var provider in root.Providers)
        {
            if (provider.TryGet(key, out var value) && value is not null)
            {
                winner = provider;
            }
        }

        return winner;
    }

    private static string? Format(object? value) => value switch
    {
        null => null,
        bool flag => flag ? "true" : "false",
        TimeSpan span => span.ToString("c", CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}
