using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;

namespace IoTHub.Broker.Security.PasswordFile;

/// <summary>
/// A password hash as <c>mosquitto_passwd</c> writes it (standard base64 throughout):
/// <c>$7$iterations$salt$hash</c>, PBKDF2-HMAC-SHA512 with a 64-byte result (Mosquitto 2.0 writes a 12-byte salt and 101
/// iterations, later releases a 64-byte salt and 210 000), and the older <c>$6$salt$hash</c>, one SHA-512 over the
/// password followed by the salt. Any salt length is taken.
/// </summary>
internal sealed class PasswordHash
{
    private const int HashBytes = 64;

    private readonly int _iterations;
    private readonly byte[] _salt;
    private readonly byte[] _hash;

    private PasswordHash(int iterations, byte[] salt, byte[] hash) => (_iterations, _salt, _hash) = (iterations, salt, hash);

    /// <summary>Iterations of PBKDF2; 0 for the single SHA-512 of <c>$6$</c>.</summary>
    public int Iterations => _iterations;

    /// <summary>Parses one hash; <paramref name="problem"/> says what is wrong without quoting the hash.</summary>
    public static PasswordHash? Parse(string text, out string? problem)
    {
        var fields = text.Split('$');
        problem = null;
        switch (fields)
        {
            case ["", "7", var iterations, var salt, var hash]:
                if (!int.TryParse(iterations, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
                {
                    problem = "the iteration count of the $7$ hash is not a positive whole number";
                    return null;
                }

                return Decode(count, salt, hash, out problem);
            case ["", "6", var salt, var hash]:
                return Decode(0, salt, hash, out problem);
            default:
                problem = "not a $7$ (PBKDF2-SHA512) or $6$ (SHA-512) hash as mosquitto_passwd writes them";
                return null;
        }
    }

    /// <summary>Whether <paramref name="password"/> hashes to this hash, compared in constant time.</summary>
    public bool Matches(ReadOnlySpan<byte> password)
    {
        Span<byte> computed = stackalloc byte[HashBytes];
        if (_iterations > 0)
        {
            Rfc2898DeriveBytes.Pbkdf2(password, _salt, computed, _iterations, HashAlgorithmName.SHA512);
        }
        else
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
            sha.AppendData(password);
            sha.AppendData(_salt);
            sha.GetHashAndReset(computed);
        }

        return CryptographicOperations.FixedTimeEquals(computed, _hash);
    }

    private static PasswordHash? Decode(int iterations, string salt, string hash, out string? problem)
    {
        problem = null;
        var saltBytes = FromBase64(salt);
        var hashBytes = FromBase64(hash);
        if (saltBytes is not { Length: > 0 })
        {
            problem = "the salt is not base64";
        }
        else if (hashBytes is not { Length: HashBytes })
        {
            problem = $"the hash is not base64 of {HashBytes} bytes";
        }

        return problem is null ? new PasswordHash(iterations, saltBytes!, hashBytes!) : null;
    }

    private static byte[]? FromBase64(string text) => Base64.IsValid(text) ? Convert.FromBase64String(text) : null;
}
