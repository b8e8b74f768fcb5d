using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace IoTHub.Web.Configuration;

/// <summary>
/// Reads the keys of one configuration section by hand, collecting a message for every value it
/// cannot use instead of stopping at the first one (the stock binder throws on the first bad value). With
/// <paramref name="effective"/>, every key read is recorded there with the value in force and where it came from.
/// </summary>
internal sealed class SectionReader(IConfigurationSection section, List<string>? errors = null, EffectiveSettings? effective = null)
{
    private static readonly string PortProblem = $"is not a port number (0 to {IPEndPoint.MaxPort}).";

    private readonly HashSet<string> _knownKeys = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _errors = errors ?? [];

    public delegate bool Parser<T>(string raw, [MaybeNullWhen(false)] out T value);

    public IReadOnlyList<string> Errors => _errors;

    /// <summary>A TCP port: 0 (any free port) to 65535.</summary>
    public int Port(string key, int fallback) => Read(key, fallback, TryParsePort, PortProblem);

    /// <summary>A literal IPv4 or IPv6 address (0.0.0.0 or :: for every interface).</summary>
    public IPAddress Address(string key, IPAddress fallback) => Read(key, fallback, TryParseAddress, "is not an IP address.");

    public string NonEmptyText(string key, string fallback) => Read(key, fallback, TryParseNonEmpty, "must not be empty.");

    /// <summary>Any text, empty included.</summary>
    public string Text(string key, string fallback) => Read(key, fallback, TryParseText, "is not text.");

    /// <summary>A whole number from <paramref name="minimum"/> to <paramref name="maximum"/>.</summary>
    public long Number(string key, long fallback, long minimum, long maximum) =>
        Read(key, fallback, (string raw, out long value) =>
            long.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= minimum && value <= maximum,
            $"is not a whole number from {minimum} to {maximum}.");

    /// <summary>A positive duration written as [d.]hh:mm:ss[.fff], e.g. 00:00:10.</summary>
    public TimeSpan Duration(string key, TimeSpan fallback) =>
        Read(key, fallback, static (string raw, out TimeSpan value) =>
            TimeSpan.TryParse(raw, CultureInfo.InvariantCulture, out value) && value > TimeSpan.Zero,
            "is not a positive duration such as 00:00:10 (hh:mm:ss) or 7.00:00:00 (days).");

    public bool Flag(string key, bool fallback) => Read(key, fallback, bool.TryParse, "is not true or false.");

    /// <summary>A flag whose absence means something of its own (null: not set).</summary>
    public bool? OptionalFlag(string key) => Read(key, (bool?)null, static (string raw, out bool? value) =>
    {
        value = bool.TryParse(raw, out var flag) ? flag : null;
        return value is not null;
    }, "is not true or false.");

    /// <summary>One of the names of <typeparamref name="TEnum"/>.</summary>
    public TEnum Choice<TEnum>(string key, TEnum fallback)
        where TEnum : struct, Enum =>
        Read(key, fallback, static (string raw, out TEnum value) => Enum.TryParse(raw, ignoreCase: true, out value) && Enum.IsDefined(value),
            $"is not one of {string.Join(", ", Enum.GetNames<TEnum>())}.");

    /// <summary>
    /// A list, written either as one comma-separated value (<c>--Mqtt:TrustedProxies=10.0.0.1,10.1.0.0/16</c>) or as
    /// a JSON array (children 0, 1, ...); each item parsed, each bad one recorded.
    /// </summary>
    public List<T> Items<T>(string key, Parser<T> parse, string problem)
    {
        _knownKeys.Add(key);
        IConfigurationSection list = section.GetSection(key);
        IEnumerable<string> raw = list.Value is { } joined
            ? joined.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : list.GetChildren().Select(static child => child.Value ?? string.Empty).ToList();
        effective?.Add(list.Value is null && list.GetChildren().FirstOrDefault() is { } first ? first.Path : list.Path, string.Join(",", raw), string.Empty);
        List<T> items = [];
        foreach (var item in raw)
        {
            if (parse(item, out T? value))
            {
                items.Add(value);
            }
            else
            {
                Fail(key, $"'{item}' {problem}");
            }
        }

        return items;
    }

    /// <summary>The name of the section (its last path segment).</summary>
    public string Name => section.Key;

    /// <summary>One reader per child of <paramref name="key"/> (e.g. each named broker), reporting into the same error list.</summary>
    public IEnumerable<SectionReader> Children(string key)
    {
        _knownKeys.Add(key);
        return section.GetSection(key).GetChildren().Select(child => new SectionReader(child, _errors, effective)).ToList();
    }

    /// <summary>A reader of the sub-section <paramref name="key"/> (e.g. "Security:Bans"), reporting into the same error list.</summary>
    public SectionReader Section(string key)
    {
        _knownKeys.Add(key);
        return new SectionReader(section.GetSection(key), _errors, effective);
    }

    /// <summary>The keys and values of the sub-section <paramref name="key"/> (e.g. a webhook's Headers); a key with sub-keys instead of a value is recorded as an error.</summary>
    public List<KeyValuePair<string, string>> Entries(string key)
    {
        _knownKeys.Add(key);
        List<KeyValuePair<string, string>> entries = [];
        foreach (var child in section.GetSection(key).GetChildren())
        {
            if (child.Value is { } value)
            {
                effective?.Add(child.Path, value, null);
                entries.Add(new(child.Key, value));
            }
            else
            {
                Fail($"{key}:{child.Key}", "is not a value.");
            }
        }

        return entries;
    }

    /// <summary>Records an error unless <paramref name="key"/> is set.</summary>
    public void Require(string key)
    {
        if (section[key] is null)
        {
            Fail(key, "must be set.");
        }
    }

    /// <summary>Records a problem that concerns more than one key.</summary>
    public void Fail(string key, string problem) => _errors.Add($"{section.Path}:{key} {problem}");

    /// <summary>Reports every key of the section that no read asked for: most likely a typo.</summary>
    public void RejectUnknownKeys()
    {
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!_knownKeys.Contains(child.Key))
            {
                Fail(child.Key, $"is not a known setting (known: {string.Join(", ", _knownKeys)}).");
            }
        }
    }

    private static bool TryParsePort(string raw, out int port) =>
        int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= IPEndPoint.MaxPort;

    private static bool TryParseAddress(string raw, [MaybeNullWhen(false)] out IPAddress address) => IPAddress.TryParse(raw, out address);

    private static bool TryParseText(string raw, out string text)
    {
        text = raw;
        return true;
    }

    private static bool TryParseNonEmpty(string raw, out string text)
    {
        text = raw;
        return !string.IsNullOrWhiteSpace(raw);
    }

    /// <summary>The parsed value; the fallback when the key is absent or its value is bad (which is recorded).</summary>
    public T Read<T>(string key, T fallback, Parser<T> parse, string problem)
    {
        _knownKeys.Add(key);
        effective?.Add($"{section.Path}:{key}", section[key], fallback);
        if (section[key] is not { } raw)
        {
            return fallback;
        }

        if (parse(raw, out T? value))
        {
            return value;
        }

        Fail(key, $"'{raw}' {problem}");
        return fallback;
    }
}
