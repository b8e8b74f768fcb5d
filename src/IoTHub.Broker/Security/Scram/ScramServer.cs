using System.Security.Cryptography;
using System.Text;

namespace IoTHub.Broker.Security.Scram;

/// <summary>
/// The server side of one SCRAM exchange (RFC 5802 §5, §7): <see cref="Start"/> reads the client-first-message,
/// <see cref="ServerFirst"/> answers with the salt, the iterations and the joined nonce, <see cref="Finish"/> checks the
/// client-final-message's nonce, channel binding and proof (in constant time) and makes the server-final-message.
/// No channel binding: the gs2 flag must be <c>n</c> or <c>y</c>; <c>p=</c> is refused. No authorization identity
/// other than the user itself, no mandatory extensions (<c>m=</c>). The user name is the <c>saslname</c> with
/// <c>=2C</c> and <c>=3D</c> decoded, taken as it is (no SASLprep): it is compared as MQTT user names are, exactly.
/// </summary>
public sealed class ScramServer
{
    private readonly ScramMechanism _mechanism;
    private readonly string _gs2Header;
    private readonly string _clientFirstBare;
    private readonly string _clientNonce;
    private ScramCredential? _credential;
    private string? _serverFirst;
    private string? _nonce;

    private ScramServer(ScramMechanism mechanism, string gs2Header, string clientFirstBare, string userName, string clientNonce) =>
        (_mechanism, _gs2Header, _clientFirstBare, UserName, _clientNonce) = (mechanism, gs2Header, clientFirstBare, userName, clientNonce);

    /// <summary>The user the client logs in as.</summary>
    public string UserName { get; }

    /// <summary>Reads a client-first-message; null with <paramref name="problem"/> when it is not one this server takes.</summary>
    public static ScramServer? Start(ScramMechanism mechanism, ReadOnlySpan<byte> clientFirst, out string? problem)
    {
        if (Text(clientFirst) is not { } text)
        {
            problem = "the client-first-message is not UTF-8";
            return null;
        }

        // gs2-header = gs2-cbind-flag "," [authzid] ","
        var parts = text.Split(',');
        if (parts.Length < 4)
        {
            problem = "the client-first-message is not gs2-header, n=user, r=nonce";
            return null;
        }

        switch (parts[0])
        {
            case "n" or "y":
                break;
            case var flag when flag.StartsWith("p=", StringComparison.Ordinal):
                problem = "channel binding (" + flag + ") is not supported: send the gs2 flag n";
                return null;
            default:
                problem = "the gs2 channel binding flag is not n, y or p=";
                return null;
        }

        if (parts[2].StartsWith("m=", StringComparison.Ordinal))
        {
            problem = "mandatory extensions (m=) are not supported";
            return null;
        }

        if (!parts[2].StartsWith("n=", StringComparison.Ordinal) || SaslName(parts[2][2..]) is not { Length: > 0 } userName)
        {
            problem = "the user name is missing, or has a ',' or '=' not written =2C or =3D";
            return null;
        }

        if (parts[1].Length > 0 && !(parts[1].StartsWith("a=", StringComparison.Ordinal) && SaslName(parts[1][2..]) == userName))
        {
            problem = "an authorization identity other than the user is not supported";
            return null;
        }

        if (!parts[3].StartsWith("r=", StringComparison.Ordinal) || !IsNonce(parts[3].AsSpan(2)))
        {
            problem = "the client nonce is missing or not printable";
            return null;
        }

        problem = null;
        var gs2Header = parts[0] + "," + parts[1] + ",";
        return new ScramServer(mechanism, gs2Header, text[gs2Header.Length..], userName, parts[3][2..]);
    }

    /// <summary>The server-first-message for <paramref name="credential"/>, with a fresh server nonce.</summary>
    public byte[] ServerFirst(ScramCredential credential)
    {
        if (_serverFirst is not null || credential.Mechanism != _mechanism)
        {
            throw new InvalidOperationException("the server-first-message is made once, with a credential of the exchange's mechanism");
        }

        _credential = credential;
        _nonce = _clientNonce + Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
        _serverFirst = $"r={_nonce},s={Convert.ToBase64String(credential.Salt)},i={credential.Iterations}";
        return Encoding.UTF8.GetBytes(_serverFirst);
    }

    /// <summary>
    /// Checks the client-final-message; the server-final-message (<c>v=ServerSignature</c>) when the proof is right,
    /// else null: with <paramref name="problem"/> null for a wrong proof, or saying what is malformed.
    /// </summary>
    public byte[]? Finish(ReadOnlySpan<byte> clientFinal, out string? problem)
    {
        if (_credential is not { } credential || _nonce is null)
        {
            throw new InvalidOperationException("the server-first-message was not made");
        }

        // client-final-message = channel-binding "," nonce ["," extensions] "," proof
        var text = Text(clientFinal);
        var proofAt = text?.LastIndexOf(",p=", StringComparison.Ordinal) ?? -1;
        if (text is null || proofAt < 0 || text.Split(',') is not [var binding, var nonce, ..])
        {
            problem = "the client-final-message is not c=binding, r=nonce, p=proof";
            return null;
        }

        if (binding != "c=" + Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header)))
        {
            problem = "the channel binding does not repeat the gs2 header";
            return null;
        }

        if (nonce != "r=" + _nonce)
        {
            problem = "the nonce is not the one of the server-first-message";
            return null;
        }

        var proof = FromBase64(text[(proofAt + 3)..]);
        if (proof is null || proof.Length != _mechanism.HashSize)
        {
            problem = "the proof is not base64 of one hash";
            return null;
        }

        // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); right when H(ClientKey) = StoredKey.
        var authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + _serverFirst + "," + text[..proofAt]);
        var clientKey = _mechanism.Hmac(credential.StoredKey, authMessage);
        for (var i = 0; i < clientKey.Length; i++)
        {
            clientKey[i] ^= proof[i];
        }

        problem = null;
        return !CryptographicOperations.FixedTimeEquals(_mechanism.Digest(clientKey), credential.StoredKey) ? null : Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(_mechanism.Hmac(credential.ServerKey, authMessage)));
    }

    private static string? Text(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>A saslname: <c>=2C</c> is ',', <c>=3D</c> is '='; any other '=' makes it invalid (null).</summary>
    private static string? SaslName(string value)
    {
        var name = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != '=')
            {
                name.Append(value[i]);
                continue;
            }

            var escape = value.AsSpan(i + 1, Math.Min(2, value.Length - i - 1));
            if (escape is not ("2C" or "3D"))
            {
                return null;
            }

            name.Append(escape is "2C" ? ',' : '=');
            i += 2;
        }

        return name.ToString();
    }

    /// <summary>printable = %x21-2B / %x2D-7E (no ',').</summary>
    private static bool IsNonce(ReadOnlySpan<char> nonce)
    {
        foreach (var c in nonce)
        {
            if (c is < (char)0x21 or > (char)0x7E or ',')
            {
                return false;
            }
        }

        return !nonce.IsEmpty;
    }

    private static byte[]? FromBase64(string text) => System.Buffers.Text.Base64.IsValid(text) ? Convert.FromBase64String(text) : null;
}
