namespace IoTHub.Web.Configuration;

/// <summary>
/// The short switches. Any other key can be given as <c>--Section:Key=value</c>, which the default
/// command-line source already reads.
/// </summary>
internal static class CommandLineSwitches
{
    public static readonly IReadOnlyDictionary<string, string> Mappings = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--http-port"] = $"{HttpOptions.SectionName}:Port",
        ["--mqtt-port"] = $"{MqttOptions.SectionName}:Port",
        ["--data-dir"] = $"{StorageOptions.SectionName}:DataDirectory",
        [Mosquitto.MosquittoConfigurationSource.Switch] = Mosquitto.MosquittoConfigurationSource.Key,
    };
}
