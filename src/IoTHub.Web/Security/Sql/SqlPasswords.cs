using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;
using IoTHub.Broker.Security.Backends;

namespace IoTHub.Web.Security.Sql;

/// <summary>
/// Checks a password against a hash an application stored (docs/security.md#password-hashes), comparing in constant time.
/// A stored value that is not of the configured algorithm's form is a failure of the backend (a configuration or data
/// error the operator must see), not a deny.
/// </summary>
internal static class SqlPasswords
{
    public static bool Verify(SqlPasswordHash algorithm, byte[] password, string stored, string? salt, SaltPosition position, int? iterations) =>
        algorithm switch
        {
            SqlPasswordHash.Bcrypt => Bcrypt(password, stored),
            SqlPasswordHash.Pbkdf2Sha256 => Pbkdf2(HashAlgorithmName.SHA256, "$pbkdf2-sha256$", password, stored, salt, iterations),
            SqlPasswordHash.Pbkdf2Sha512 => Pbkdf2(HashAlgorithmName.SHA512, "$pbkdf2-sha512$", password, stored, salt, iterations),
            SqlPasswordHash.Sha256 => Sha256(password, stored, salt, position),
            _ => CryptographicOperations.FixedTimeEquals(password, Encoding.UTF8.GetBytes(stored)),
        };

    /// <summary>bcrypt takes text: a password whose bytes are not UTF-8 cannot be the one hashed.</summary>
    private static bool Bcrypt(byte[] password, string stored)
    {
        if (!Utf8.IsValid(password))
        {
            return false;
        }

        try
        {
            return BCrypt.Net.BCrypt.Verify(Encoding.UTF8.GetString(password), stored);
        }
        catch (Exception e) when (e is BCrypt.Net.SaltParseException or ArgumentException)
        {
            throw new AuthenticationBackendException("the stored password_hash is not a bcrypt hash ($2a$, $2b$ or $2y$)");
        }
    }

    /// <summary>
    /// Either <c>$pbkdf2-sha256$iterations$salt$hash</c> (passlib's form: salt and hash in base64 with '.' for '+' and no
    /// padding), or a hex hash with the text of the salt column and the configured iterations (EMQX's columns).
    /// </summary>
    private static bool Pbkdf2(HashAlgorithmName hash, string prefix, byte[] password, string stored, string? salt, int? iterations)
    {
        byte[] expected, saltBytes;
        int rounds;
        if (stored.StartsWith('$'))
        {
            var parts = stored.Split('$');
            if (parts.Length != 5 || !stored.StartsWith(prefix, StringComparison.Ordinal)
                || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out rounds) || rounds < 1
                || !TryAdaptedBase64(parts[3], out saltBytes) || !TryAdaptedBase64(parts[4], out expected) || expected.Length == 0)
            {
                throw new AuthenticationBackendException($"the stored password_hash is not of the form {prefix}iterations$salt$hash");
            }
        }
        else
        {
            expected = Hex(stored);
            saltBytes = Encoding.UTF8.GetBytes(salt ?? string.Empty);
            rounds = iterations ?? throw new AuthenticationBackendException(
                $"the stored password_hash is hex, which does not say its PBKDF2 iterations, and Iterations is not set (or store it as {prefix}iterations$salt$hash)");
        }

        return CryptographicOperations.FixedTimeEquals(Rfc2898DeriveBytes.Pbkdf2(password, saltBytes, rounds, hash, expected.Length), expected);
    }

    private static bool Sha256(byte[] password, string stored, string? salt, SaltPosition position)
    {
        var saltBytes = Encoding.UTF8.GetBytes(salt ?? string.Empty);
        byte[] input = position == SaltPosition.Prefix ? [.. saltBytes, .. password] : [.. password, .. saltBytes];
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(input), Hex(stored));
    }

    private static byte[] Hex(string stored)
    {
        try
        {
            return Convert.FromHexString(stored);
        }
        catch (FormatException)
        {
            throw new AuthenticationBackendException("the stored password_hash is not hex");
        }
    }

    private static bool TryAdaptedBase64(string text, out byte[] bytes)
    {
        var standard = text.Replace('.', '+');
        standard = standard.PadRight(standard.Length + ((4 - (standard.Length % 4)) % 4), '=');
        bytes = new byte[standard.Length];
        var ok = Convert.TryFromBase64String(standard, bytes, out var written);
        bytes = ok ? bytes[..written] : [];
        return ok;
    }
}
