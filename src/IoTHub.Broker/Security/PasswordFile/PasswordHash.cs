using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace IoTHub.Broker.Security.PasswordFile;

/// <summary>
/// A password hash as <c>mosquitto_passwd</c> writes it (standard base64 throughout):
/// <c>$7$iterations$salt$hash</c>, PBKDF2-HMAC-SHA512 with a 64-byte result (Mosquitto 2.0 writes a 12-byte salt and 101
/// iterations, later releases a 64-byte salt and 210 000), and the older <c>$6$salt$hash</c>, one SHA-512 over the
/// password followed by the salt. Any salt length is taken. The database users (<c>Security/Users</c>) keep their
/// hashes in the same <c>$7$</c> form: it names its iteration count and salt, so the cost can be raised for new
/// hashes while old ones still verify, and a Mosquitto file imports as it is.
/// </summary>
public sealed class PasswordHash
{
    /// <summary>
    /// PBKDF2-HMAC-SHA512 iterations of the hashes made here unless <c>Security:PasswordHashIterations</c> says
    /// otherwise: NIST SP 800-63B's minimum of 10 000, about 8 ms of one core per check, paid once per cache entry.
    /// OWASP's 210 000 for SHA-512 (as Mosquitto's releases after 2.0 write) cost 128 ms per check here: a fleet
    /// reconnecting after a restart got 7 connects/s per core (docs/security.md#database-users).
    /// </summary>
    public const int DefaultIterations = 10_000;

    private const int HashBytes = 64;
    private const int SaltBytes = 16;

    private readonly int _iterations;
    private readonly byte[] _salt;
    private readonly byte[] _hash;

    private PasswordHash(int iterations, byte[] salt, byte[] hash) => (_iterations, _salt, _hash) = (iterations, salt, hash);

    /// <summary>Iterations of PBKDF2; 0 for the single SHA-512 of <c>$6$</c>.</summary>
    public int Iterations => _iterations;

    /// <summary>
    /// Of a <c>$7$</c> hash, its salt and PBKDF2-HMAC-SHA512 result: SCRAM-SHA-512's SaltedPassword (RFC 5802 §3) for
    /// that salt and <see cref="Iterations"/>; null for a <c>$6$</c> one.
    /// </summary>
    public (byte[] Salt, byte[] Derived)? Pbkdf2 => _iterations > 0 ? (_salt, _hash) : null;

    /// <summary>The hash as <c>mosquitto_passwd</c> writes it: <c>$7$iterations$salt$hash</c> or <c>$6$salt$hash</c>.</summary>
    public string Encoded => _iterations > 0
        ? $"$7${_iterations.ToString(CultureInfo.InvariantCulture)}${Convert.ToBase64String(_salt)}${Convert.ToBase64String(_hash)}"
        : $"$6${Convert.ToBase64String(_salt)}${Convert.ToBase64String(_hash)}";

    /// <summary>A new <c>$7$</c> hash of <paramref name="password"/> (UTF-8) with a random 16-byte salt.</summary>
    public static PasswordHash Create(string password, int iterations = DefaultIterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA512, HashBytes);
        return new PasswordHash(iterations, salt, hash);
    }

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
