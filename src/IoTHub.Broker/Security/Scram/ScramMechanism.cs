using System.Security.Cryptography;

namespace IoTHub.Broker.Security.Scram;

/// <summary>
/// A SCRAM mechanism (RFC 5802) by its hash: SCRAM-SHA-256 (RFC 7677) and SCRAM-SHA-512. Its name is the MQTT 5.0
/// Authentication Method; <see cref="DefaultIterations"/> is the PBKDF2 count of credentials made here, and of the
/// made-up ones an unknown user gets.
/// </summary>
public sealed class ScramMechanism
{
    /// <summary>
    /// SCRAM-SHA-256 with 4 096 iterations, RFC 7677's minimum and PostgreSQL's default: the client pays them at every
    /// login (the server only checks a proof), and devices are small.
    /// </summary>
    public static readonly ScramMechanism Sha256 = new("SCRAM-SHA-256", HashAlgorithmName.SHA256, SHA256.HashSizeInBytes, 4096);

    /// <summary>SCRAM-SHA-512 on the <c>$7$</c> hashes: their own iterations; an unknown user looks like a new database user.</summary>
    public static readonly ScramMechanism Sha512 = new("SCRAM-SHA-512", HashAlgorithmName.SHA512, SHA512.HashSizeInBytes,
        PasswordFile.PasswordHash.DefaultIterations);

    private ScramMechanism(string name, HashAlgorithmName hash, int hashSize, int defaultIterations) =>
        (Name, Hash, HashSize, DefaultIterations) = (name, hash, hashSize, defaultIterations);

    public static IReadOnlyList<ScramMechanism> All { get; } = [Sha256, Sha512];

    /// <summary>The SASL name, e.g. <c>SCRAM-SHA-256</c>.</summary>
    public string Name { get; }

    public HashAlgorithmName Hash { get; }

    /// <summary>Bytes of a hash, of an HMAC, and of the keys.</summary>
    public int HashSize { get; }

    public int DefaultIterations { get; }

    /// <summary>The mechanism named exactly <paramref name="name"/>; null for another.</summary>
    public static ScramMechanism? Find(string name) => name == Sha256.Name ? Sha256 : name == Sha512.Name ? Sha512 : null;

    public byte[] Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => CryptographicOperations.HmacData(Hash, key, data);

    public byte[] Digest(ReadOnlySpan<byte> data) => CryptographicOperations.HashData(Hash, data);
}
