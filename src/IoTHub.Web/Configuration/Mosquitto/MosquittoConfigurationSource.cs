namespace IoTHub.Web.Configuration.Mosquitto;

/// <summary>
/// The keys a mosquitto.conf maps to (<see cref="MosquittoImport"/>), as a configuration source. It sits above the JSON
/// files and below environment variables and the command line, so a setting given explicitly wins over the imported
/// file. The file is the one <c>Mqtt:MosquittoConfig</c> names in the other sources (<c>--mosquitto-config</c>), read
/// again whenever that name changes: settings added after this source (a test host's) are seen too.
/// </summary>
internal sealed class MosquittoConfigurationSource(IConfigurationRoot root) : IConfigurationSource
{
    /// <summary>The key within the Mqtt section.</summary>
    public const string SettingName = "MosquittoConfig";

    public const string Key = $"{MqttOptions.SectionName}:{SettingName}";

    public const string Switch = "--mosquitto-config";

    public IConfigurationProvider Build(IConfigurationBuilder builder) => new MosquittoConfigurationProvider(root);

    /// <summary>Adds the source above the JSON files of <paramref name="configuration"/>.</summary>
    public static void AddTo(ConfigurationManager configuration)
    {
        IList<IConfigurationSource> sources = configuration.Sources;
        var above = -1;
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i] is Microsoft.Extensions.Configuration.Json.JsonConfigurationSource)
            {
                above = i;
            }
        }

        sources.Insert(above + 1, new MosquittoConfigurationSource(configuration));
    }

    /// <summary>The import of the file the configuration names now; null without one.</summary>
    public static MosquittoImport? Current(IConfiguration configuration) =>
        (configuration as IConfigurationRoot)?.Providers.OfType<MosquittoConfigurationProvider>().FirstOrDefault()?.Import;
}

/// <summary>Serves the keys of the imported file, and tells for each the line it came from.</summary>
internal sealed class MosquittoConfigurationProvider(IConfigurationRoot root) : ConfigurationProvider
{
    private readonly Lock _lock = new();
    private string? _path;
    private MosquittoImport? _import;

    public MosquittoImport? Import
    {
        get
        {
            Refresh();
            return _import;
        }
    }

    public override bool TryGet(string key, out string? value)
    {
        Refresh();
        return base.TryGet(key, out value);
    }

    public override IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath)
    {
        Refresh();
        return base.GetChildKeys(earlierKeys, parentPath);
    }

    /// <summary>The line a key comes from, e.g. <c>/etc/mosquitto/mosquitto.conf:12</c>; null when the file does not set it.</summary>
    public string? Origin(string key) => Import?.Settings.GetValueOrDefault(key)?.Origin;

    private void Refresh()
    {
        var path = NamedPath();
        lock (_lock)
        {
            if (path == _path)
            {
                return;
            }

            _path = path;
            _import = path is null ? null : MosquittoImport.Read(path);
            Data = _import is null
                ? new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
                : _import.Settings.ToDictionary(static s => s.Key, static string? (s) => s.Value.Value, StringComparer.OrdinalIgnoreCase);
        }
    }

    /// <summary>Mqtt:MosquittoConfig as the other sources say, the last one winning; null when unset or empty.</summary>
    private string? NamedPath()
    {
        var providers = root.Providers.ToList();
        for (var i = providers.Count - 1; i >= 0; i--)
        {
            if (!ReferenceEquals(providers[i], this) && providers[i].TryGet(MosquittoConfigurationSource.Key, out var value))
            {
                return string.IsNullOrWhiteSpace(value) ? null : value;
            }
        }

        return null;
    }
}
