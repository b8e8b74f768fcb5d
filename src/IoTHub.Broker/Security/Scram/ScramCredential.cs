using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace IoTHub.Broker.Security.Scram;

/// <summary>
/// What the server keeps to check a SCRAM login (RFC 5802 §3), never the password: the salt and iterations the client
/// derives its SaltedPassword with, StoredKey = H(HMAC(SaltedPassword, "Client Key")) to check the proof and
/// ServerKey = HMAC(SaltedPassword, "Server Key") to sign the answer. Written as PostgreSQL does,
/// <c>SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey</c> in base64.
/// </summary>
public sealed record ScramCredential(ScramMechanism Mechanism, int Iterations, byte[] Salt, byte[] StoredKey, byte[] ServerKey)
{
    private const int SaltBytes = 16;

    /// <summary>The credential of <paramref name="password"/> (UTF-8) with a random salt.</summary>
    public static ScramCredential Create(ScramMechanism mechanism, string password, int? iterations = null)
    {
        var count = iterations ?? mechanism.DefaultIterations;
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, count, mechanism.Hash, mechanism.HashSize);
        return FromSaltedPassword(mechanism, count, salt, salted);
    }

    /// <summary>From SaltedPassword = PBKDF2(password, salt, iterations): a <c>$7$</c> hash is exactly that for SCRAM-SHA-512.</summary>
    public static ScramCredential FromSaltedPassword(ScramMechanism mechanism, int iterations, byte[] salt, ReadOnlySpan<byte> saltedPassword) =>
        new(mechanism, iterations, salt, mechanism.Digest(mechanism.Hmac(saltedPassword, "Client Key"u8)), mechanism.Hmac(saltedPassword, "Server Key"u8));

    public string Encoded =>
        $"{Mechanism.Name}${Iterations.ToString(CultureInfo.InvariantCulture)}:{Convert.ToBase64String(Salt)}${Convert.ToBase64String(StoredKey)}:{Convert.ToBase64String(ServerKey)}";

    /// <summary>Reads <see cref="Encoded"/>; null when it is not a credential of a known mechanism.</summary>
    public static ScramCredential? Parse(string text)
    {
        if (text.Split('$') is not [var name, var parameters, var keys] || ScramMechanism.Find(name) is not { } mechanism
            || parameters.Split(':') is not [var iterations, var salt] || keys.Split(':') is not [var stored, var server]
            || !int.TryParse(iterations, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1
            || !Base64.IsValid(salt) || !Base64.IsValid(stored) || !Base64.IsValid(server))
        {
            return null;
        }

        var credential = new ScramCredential(mechanism, count, Convert.FromBase64String(salt), Convert.FromBase64String(stored), Convert.FromBase64String(server));
        return credential.Salt.Length > 0 && credential.StoredKey.Length == mechanism.HashSize && credential.ServerKey.Length == mechanism.HashSize
            ? credential : null;
    }
}
