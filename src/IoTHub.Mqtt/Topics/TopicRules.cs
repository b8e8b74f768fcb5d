using System.Buffers;

namespace IoTHub.Mqtt;

/// <summary>Topic Name and Topic Filter rules (MQTT 5.0 §4.7, §4.8.2; 3.1.1 §4.7).</summary>
public static class TopicRules
{
    /// <summary>The longest topic: a UTF-8 string holds at most 65 535 bytes.</summary>
    public const int MaxLength = ushort.MaxValue;

    /// <summary>The prefix of a shared subscription filter (MQTT 5.0 §4.8.2).</summary>
    public const string SharePrefix = "$share/";

    /// <summary>
    /// A Topic Name holds at least one character [MQTT-4.7.3-1] and no wildcard [MQTT-4.7.0-1]
    /// [MQTT-3.3.2-2]. UTF-8 validity is checked where the string is read.
    /// </summary>
    public static bool IsValidTopicName(ReadOnlySpan<byte> topic) =>
        topic.Length is > 0 and <= MaxLength && !ContainsWildcard(topic);

    /// <inheritdoc cref="IsValidTopicName(ReadOnlySpan{byte})"/>
    public static bool IsValidTopicName(in ReadOnlySequence<byte> topic)
    {
        if (topic.IsSingleSegment)
        {
            return IsValidTopicName(topic.FirstSpan);
        }

        if (topic.Length is 0 or > MaxLength)
        {
            return false;
        }

        foreach (var segment in topic)
        {
            if (ContainsWildcard(segment.Span))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc cref="IsValidTopicName(ReadOnlySpan{byte})"/>
    public static bool IsValidTopicName(string topic) =>
        topic.Length > 0 && topic.AsSpan().IndexOfAny('+', '#') < 0;

    public static bool ContainsWildcard(ReadOnlySpan<byte> topic) => topic.IndexOfAny((byte)'+', (byte)'#') >= 0;

    /// <summary>
    /// A Topic Filter holds at least one character [MQTT-4.7.3-1]; '#' stands alone as the last level
    /// [MQTT-4.7.1-1]; '+' fills a whole level [MQTT-4.7.1-2]. A shared subscription
    /// (<c>$share/{ShareName}/{filter}</c>) is valid when <see cref="TryParseShared"/> accepts it.
    /// </summary>
    public static bool IsValidTopicFilter(ReadOnlySpan<char> filter)
    {
        if (filter.Length == 0)
        {
            return false;
        }

        if (filter.StartsWith(SharePrefix, StringComparison.Ordinal))
        {
            return TryParseShared(filter, out _, out _);
        }

        return IsValidPlainFilter(filter);
    }

    /// <summary>
    /// Splits <c>$share/{ShareName}/{filter}</c>. The ShareName has at least one character and no
    /// '/', '+' or '#' [MQTT-4.8.2-1]; the filter after it is a valid Topic Filter [MQTT-4.8.2-2].
    /// Returns false when <paramref name="filter"/> is not a well-formed shared subscription.
    /// </summary>
    public static bool TryParseShared(ReadOnlySpan<char> filter, out Range shareName, out Range topicFilter)
    {
        shareName = default;
        topicFilter = default;
        if (!filter.StartsWith(SharePrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = filter[SharePrefix.Length..];
        var slash = rest.IndexOf('/');
        if (slash <= 0)
        {
            return false;
        }

        var name = rest[..slash];
        if (name.IndexOfAny('+', '#') >= 0)
        {
            return false;
        }

        var inner = rest[(slash + 1)..];
        if (inner.Length == 0 || !IsValidPlainFilter(inner))
        {
            return false;
        }

        shareName = new Range(SharePrefix.Length, SharePrefix.Length + slash);
        topicFilter = new Range(SharePrefix.Length + slash + 1, filter.Length);
        return true;
    }

    private static bool IsValidPlainFilter(ReadOnlySpan<char> filter)
    {
        if (filter.Length == 0)
        {
            return false;
        }

        var levelStart = 0;
        for (var i = 0; i <= filter.Length; i++)
        {
            if (i < filter.Length && filter[i] != '/')
            {
                continue;
            }

            var level = filter[levelStart..i];
            if (level.Length > 1 && level.IndexOfAny('+', '#') >= 0)
            {
                return false;
            }

            if (level is "#" && i != filter.Length)
            {
                return false;
            }

            levelStart = i + 1;
        }

        return true;
    }
}
