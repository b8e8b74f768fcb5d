using System.Globalization;
using System.Text;

namespace IoTHub.Mqtt.Tests.Fuzz;

/// <summary>
/// Byte-level mutations of an encoded packet. Every choice comes from the given <see cref="Random"/>,
/// so a seed replays the same mutations; each applied mutation is described in the log.
/// </summary>
internal static class Mutator
{
    /// <summary>Bytes that sit on boundaries: NUL, 7-bit max, continuation bit, all ones, overlong UTF-8 lead, surrogate lead.</summary>
    public static readonly byte[] Interesting = [0x00, 0x7F, 0x80, 0xFF, 0xC0, 0xED];

    private const int OperationCount = 9;

    /// <summary>Applies one to a few stacked mutations (rarely none) to a copy of <paramref name="input"/>.</summary>
    public static byte[] Mutate(byte[] input, Random random, StringBuilder log)
    {
        var bytes = new List<byte>(input);
        var count = random.Next(20) == 0 ? 0 : 1 + Geometric(random, 0.45, 5);
        for (var i = 0; i < count; i++)
        {
            Apply(bytes, random, log);
        }

        // Half the time make the fixed header announce the mutated length, so the body parser sees the
        // damage instead of the decoder just waiting for more data.
        if (random.Next(2) == 0)
        {
            FixRemainingLength(bytes, log);
        }

        if (log.Length == 0)
        {
            log.Append("none");
        }

        return [.. bytes];
    }

    private static void Apply(List<byte> bytes, Random random, StringBuilder log)
    {
        var n = bytes.Count;
        switch (random.Next(OperationCount))
        {
            case 0 when n > 0:
            {
                // Bit flips, biased towards the fixed header and the first fields.
                var flips = 1 + Geometric(random, 0.5, 4);
                for (var f = 0; f < flips; f++)
                {
                    var at = Position(random, n);
                    var bit = random.Next(8);
                    bytes[at] ^= (byte)(1 << bit);
                    Log(log, $"flip@{at}.{bit}");
                }

                break;
            }

            case 1 when n > 0:
            {
                var at = Position(random, n);
                var value = Interesting[random.Next(Interesting.Length)];
                bytes[at] = value;
                Log(log, $"set@{at}={value:X2}");
                break;
            }

            case 2 when n > 0:
            {
                var at = Position(random, n);
                var value = (byte)random.Next(256);
                bytes[at] = value;
                Log(log, $"rand@{at}={value:X2}");
                break;
            }

            case 3 when n > 0:
            {
                var length = random.Next(n);
                bytes.RemoveRange(length, n - length);
                Log(log, $"truncate@{length}");
                break;
            }

            case 4:
            {
                var at = random.Next(n + 1);
                var inserted = new byte[1 + Geometric(random, 0.5, 15)];
                for (var k = 0; k < inserted.Length; k++)
                {
                    inserted[k] = random.Next(3) == 0 ? Interesting[random.Next(Interesting.Length)] : (byte)random.Next(256);
                }

                bytes.InsertRange(at, inserted);
                Log(log, $"insert@{at}+{Convert.ToHexString(inserted)}");
                break;
            }

            case 5 when n > 0:
            {
                var start = random.Next(n);
                var length = 1 + random.Next(Math.Min(n - start, 64));
                var at = random.Next(n + 1);
                bytes.InsertRange(at, bytes.GetRange(start, length));
                Log(log, $"dup[{start}+{length}]@{at}");
                break;
            }

            case 6 when n > 1:
            {
                var start = random.Next(n);
                var length = 1 + random.Next(Math.Min(n - start, 16));
                bytes.RemoveRange(start, length);
                Log(log, $"delete[{start}+{length}]");
                break;
            }

            case 7 when n > 1:
            {
                // Rewrite one byte of the fixed header or a length prefix with a boundary value.
                var at = random.Next(Math.Min(n, 6));
                var value = Interesting[random.Next(Interesting.Length)];
                bytes[at] = value;
                Log(log, $"head@{at}={value:X2}");
                break;
            }

            case 8 when n > 2:
            {
                // A two-byte big-endian length/identifier set to a boundary value.
                var at = random.Next(n - 1);
                ushort value = random.Next(5) switch
                {
                    0 => 0,
                    1 => 1,
                    2 => 0x7FFF,
                    3 => 0xFFFF,
                    _ => (ushort)random.Next(n + 4),
                };
                bytes[at] = (byte)(value >> 8);
                bytes[at + 1] = (byte)value;
                Log(log, $"u16@{at}={value:X4}");
                break;
            }

            default:
            {
                // The chosen operation did not fit the input's size: insert a boundary byte instead.
                var at = random.Next(n + 1);
                var value = Interesting[random.Next(Interesting.Length)];
                bytes.Insert(at, value);
                Log(log, $"insert@{at}+{value:X2}");
                break;
            }
        }
    }

    /// <summary>Rewrites the remaining length of the first packet to cover everything after its fixed header.</summary>
    public static void FixRemainingLength(List<byte> bytes, StringBuilder log)
    {
        if (bytes.Count < 2)
        {
            return;
        }

        var oldLengthSize = 1;
        while (oldLengthSize < 4 && 1 + oldLengthSize < bytes.Count && (bytes[oldLengthSize] & 0x80) != 0)
        {
            oldLengthSize++;
        }

        var body = bytes.Count - 1 - oldLengthSize;
        if (body < 0)
        {
            return;
        }

        Span<byte> encoded = stackalloc byte[4];
        var size = VariableByteInteger.Write(encoded, (uint)body);
        bytes.RemoveRange(1, oldLengthSize);
        bytes.InsertRange(1, encoded[..size].ToArray());
        Log(log, $"fixlen={body}");
    }

    private static int Position(Random random, int n) =>
        random.Next(3) == 0 ? random.Next(Math.Min(n, 8)) : random.Next(n);

    private static int Geometric(Random random, double p, int max)
    {
        var k = 0;
        while (k < max && random.NextDouble() < p)
        {
            k++;
        }

        return k;
    }

    private static void Log(StringBuilder log, FormattableString text)
    {
        if (log.Length > 0)
        {
            log.Append(' ');
        }

        log.Append(text.ToString(CultureInfo.InvariantCulture));
    }
}
