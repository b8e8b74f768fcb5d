using System.Buffers;
using System.Text.Unicode;

namespace IoTHub.Mqtt;

/// <summary>The rules for UTF-8 Encoded Strings (MQTT 5.0 §1.5.4, 3.1.1 §1.5.3).</summary>
public static class MqttUtf8
{
    private const int StackCopyLimit = 512;

    /// <summary>
    /// True when the bytes are well-formed UTF-8 [MQTT-1.5.4-1] (which also excludes the surrogates
    /// U+D800..U+DFFF) and hold no U+0000 [MQTT-1.5.4-2].
    /// </summary>
    public static bool IsValid(ReadOnlySpan<byte> utf8) => utf8.IndexOf((byte)0) < 0 && Utf8.IsValid(utf8);

    /// <summary>
    /// True when the text holds a control character, U+0001..U+001F or U+007F..U+009F: 5.0 §1.5.4 says the data
    /// SHOULD NOT include them and a receiver MAY treat them as malformed (no statement id; 3.1.1 §1.5.3 alike).
    /// </summary>
    public static bool ContainsControlCharacter(ReadOnlySpan<char> text) =>
        text.IndexOfAnyInRange('\u0001', '\u001F') >= 0 || text.IndexOfAnyInRange('\u007F', '\u009F') >= 0;

    /// <inheritdoc cref="IsValid(ReadOnlySpan{byte})"/>
    public static bool IsValid(in ReadOnlySequence<byte> utf8)
    {
        if (utf8.IsSingleSegment)
        {
            return IsValid(utf8.FirstSpan);
        }

        // A code point may straddle segments, so validate a contiguous copy.
        var length = (int)utf8.Length;
        if (length <= StackCopyLimit)
        {
            Span<byte> copy = stackalloc byte[length];
            utf8.CopyTo(copy);
            return IsValid(copy);
        }

        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            utf8.CopyTo(rented);
            return IsValid(rented.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
