using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace IoTHub.Testing;

/// <summary>
/// The client side of SCRAM written from RFC 5802 §3 and §5 for the tests, apart from the broker's code: the
/// client-first-message, the client-final-message with its proof, and the check of the server's signature. Any hash
/// (SHA-1 for RFC 5802's example, SHA-256 for RFC 7677's, SHA-512), no channel binding (gs2 flag <c>n</c>).
/// </summary>
/// <param name="clientNonce">Fixed for the RFC test vectors; random otherwise.</param>
/// <param name="saltedPasswords">
/// Where SaltedPassword is kept per salt and iteration count for the next exchanges of the same password (RFC 5802 §5.1
/// lets a client cache it): the load tool's clients reconnect without paying PBKDF2 each time. Null: computed every time.
/// </param>
public sealed class ScramClient(HashAlgorithmName hash, string userName, string password, string? clientNonce = null,
    ConcurrentDictionary<string, byte[]>? saltedPasswords = null)
{
    private readonly string _nonce = clientNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
    private byte[]? _serverSignature;

    public static ScramClient ForMethod(string method, string userName, string password, ConcurrentDictionary<string, byte[]>? saltedPasswords = null) =>
        new(method switch
        {
            "SCRAM-SHA-256" => HashAlgorithmName.SHA256,
            "SCRAM-SHA-512" => HashAlgorithmName.SHA512,
            _ => throw new ArgumentOutOfRangeException(nameof(method)),
        }, userName, password, saltedPasswords: saltedPasswords);

    private string ClientFirstBare => "n=" + userName.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal) + ",r=" + _nonce;

    public byte[] ClientFirst() => Encoding.UTF8.GetBytes("n,," + ClientFirstBare);

    /// <summary>The client-final-message answering <paramref name="serverFirst"/> (r=nonce,s=salt,i=iterations).</summary>
    public byte[] ClientFinal(byte[] serverFirst)
    {
        var text = Encoding.UTF8.GetString(serverFirst);
        var fields = text.Split(',').ToDictionary(static f => f[..1], static f => f[2..]);
        if (!fields["r"].StartsWith(_nonce, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("the server nonce does not start with the client's");
        }

        byte[] Salted() => Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), Convert.FromBase64String(fields["s"]), int.Parse(fields["i"]), hash,
            CryptographicOperations.HashData(hash, []).Length);
        var salted = saltedPasswords is null ? Salted() : saltedPasswords.GetOrAdd(fields["s"] + "/" + fields["i"], _ => Salted());
        var clientKey = CryptographicOperations.HmacData(hash, salted, "Client Key"u8);
        var storedKey = CryptographicOperations.HashData(hash, clientKey);
        var withoutProof = "c=biws,r=" + fields["r"];
        var authMessage = Encoding.UTF8.GetBytes(ClientFirstBare + "," + text + "," + withoutProof);
        var signature = CryptographicOperations.HmacData(hash, storedKey, authMessage);
        var proof = clientKey.Zip(signature, static (k, s) => (byte)(k ^ s)).ToArray();
        _serverSignature = CryptographicOperations.HmacData(hash, CryptographicOperations.HmacData(hash, salted, "Server Key"u8), authMessage);
        return Encoding.UTF8.GetBytes(withoutProof + ",p=" + Convert.ToBase64String(proof));
    }

    /// <summary>Whether <paramref name="serverFinal"/> is <c>v=ServerSignature</c> of this exchange: the server knew the credential.</summary>
    public bool VerifyServerFinal(byte[]? serverFinal) =>
        _serverSignature is not null && serverFinal is not null && Encoding.UTF8.GetString(serverFinal) == "v=" + Convert.ToBase64String(_serverSignature);
}
