namespace IoTHub.Mqtt;

/// <summary>Variable Byte Integer (MQTT 5.0 §1.5.5): 7 bits per byte, at most four bytes.</summary>
public static class VariableByteInteger
{
    /// <summary>The largest value four bytes can hold: 268 435 455.</summary>
    public const uint MaxValue = 268_435_455;

    /// <summary>The number of bytes the minimal encoding of <paramref name="value"/> takes.</summary>
    public static int SizeOf(uint value) => value switch
    {
        < 128 => 1,
        < 16_384 => 2,
        < 2_097_152 => 3,
        _ => 4,
    };

    /// <summary>Writes the minimal encoding and returns the number of bytes written.</summary>
    public static int Write(Span<byte> destination, uint value)
    {
        if (value > MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(value), "A variable byte integer holds at most 268435455.");
        }

        var i = 0;
        do
        {
            var digit = (byte)(value & 0x7F);
            value >>= 7;
            destination[i++] = value > 0 ? (byte)(digit | 0x80) : digit;
        }
        while (value > 0);
        return i;
    }
}
