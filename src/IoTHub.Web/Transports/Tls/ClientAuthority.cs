using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace IoTHub.Web.Transports.Tls;

/// <summary>
/// What client certificates are checked against, loaded from the listener's files: the authorities of
/// "ClientCertificateAuthority" (a PEM bundle) and, when "ClientCertificateRevocationList" is set, the serial numbers
/// its CRLs (PEM or DER, each signed by one of those authorities) revoke, by issuer. Loaded again when a file changes.
/// </summary>
internal sealed class ClientAuthority
{
    public const string AuthorityKey = "ClientCertificateAuthority";

    public const string RevocationListKey = "ClientCertificateRevocationList";

    private readonly Dictionary<string, HashSet<string>> _revoked;

    private ClientAuthority(string authorityPath, string? revocationPath, X509Certificate2Collection authorities, Dictionary<string, HashSet<string>> revoked)
    {
        AuthorityPath = authorityPath;
        RevocationPath = revocationPath;
        Authorities = authorities;
        _revoked = revoked;
        Stamp = StampOf(authorityPath, revocationPath);
    }

    public string AuthorityPath { get; }

    public string? RevocationPath { get; }

    public X509Certificate2Collection Authorities { get; }

    /// <summary>The files' times and sizes when they were read.</summary>
    public (FileStamp Authority, FileStamp Revocation) Stamp { get; }

    public static (FileStamp, FileStamp) StampOf(string authorityPath, string? revocationPath) => (FileStamp.Of(authorityPath), FileStamp.Of(revocationPath));

    /// <summary>Reads the files; a file that cannot be read or used throws a <see cref="CertificateProblemException"/>.</summary>
    public static ClientAuthority Load(string authorityPath, string? revocationPath)
    {
        var authorities = LoadAuthorities(authorityPath);
        var revoked = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        if (revocationPath is not null)
        {
            try
            {
                foreach (var crl in Lists(File.ReadAllBytes(revocationPath)))
                {
                    Read(crl, authorities, revoked);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or AsnContentException or CryptographicException)
            {
                throw new CertificateProblemException($"'{revocationPath}' is not a certificate revocation list (PEM or DER): {e.Message}")
                {
                    Key = RevocationListKey,
                };
            }
        }

        return new ClientAuthority(authorityPath, revocationPath, authorities, revoked);
    }

    /// <summary>
    /// The certificates of a PEM bundle of authorities (also what a webhook's CaFile trusts); a file that cannot be read,
    /// or holds no PEM certificate, throws a <see cref="CertificateProblemException"/>.
    /// </summary>
    public static X509Certificate2Collection LoadAuthorities(string path)
    {
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is IOException or CryptographicException or UnauthorizedAccessException)
        {
            throw new CertificateProblemException($"'{path}' cannot be read: {e.Message}");
        }

        return authorities.Count > 0 ? authorities : throw new CertificateProblemException($"'{path}' holds no PEM certificate.");
    }

    /// <summary>Whether a certificate of the chain (the client's, or an intermediate the client sent) is revoked by its issuer's list.</summary>
    public bool Revokes(X509Chain chain)
    {
        foreach (var element in chain.ChainElements)
        {
            var certificate = element.Certificate;
            if (_revoked.TryGetValue(Convert.ToHexString(certificate.IssuerName.RawData), out var serials)
                && serials.Contains(Convert.ToHexString(certificate.SerialNumberBytes.Span)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The DER CRLs of a file: every "X509 CRL" block of a PEM file, or the file itself.</summary>
    private static List<byte[]> Lists(byte[] file)
    {
        var text = Encoding.ASCII.GetString(file).AsSpan();
        List<byte[]> lists = [];
        while (PemEncoding.TryFind(text, out var fields))
        {
            if (text[fields.Label].SequenceEqual("X509 CRL"))
            {
                lists.Add(Convert.FromBase64String(text[fields.Base64Data].ToString()));
            }

            text = text[fields.Location.End..];
        }

        return lists.Count > 0 || file.AsSpan().StartsWith("-----"u8) ? lists : [file];
    }

    /// <summary>
    /// Reads one CRL (RFC 5280 §5.1): its issuer must be one of the authorities and its signature that authority's;
    /// its revoked serial numbers are added under the issuer.
    /// </summary>
    private static void Read(byte[] der, X509Certificate2Collection authorities, Dictionary<string, HashSet<string>> revoked)
    {
        var list = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
        var signed = list.PeekEncodedValue().ToArray();
        var tbs = list.ReadSequence();
        var algorithm = list.ReadSequence().ReadObjectIdentifier();
        var signature = list.ReadBitString(out _);
        if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
        {
            tbs.ReadInteger();
        }

        tbs.ReadSequence();
        var issuer = tbs.ReadEncodedValue().ToArray();
        tbs.ReadEncodedValue();
        if (tbs.HasData && (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) || tbs.PeekTag().HasSameClassAndValue(Asn1Tag.GeneralizedTime)))
        {
            tbs.ReadEncodedValue();
        }

        // Several authorities may share a name (an old and a renewed one in the bundle): one of them must have signed it.
        var named = authorities.Where(a => a.SubjectName.RawData.AsSpan().SequenceEqual(issuer)).ToList();
        if (named.Count == 0)
        {
            throw new CryptographicException("its issuer is none of the ClientCertificateAuthority certificates.");
        }

        if (!named.Any(authority => Verify(authority, algorithm, signed, signature)))
        {
            throw new CryptographicException($"no ClientCertificateAuthority certificate named '{named[0].Subject}' signed it.");
        }

        var serials = revoked.TryGetValue(Convert.ToHexString(issuer), out var known) ? known : revoked[Convert.ToHexString(issuer)] = [];
        if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
        {
            var entries = tbs.ReadSequence();
            while (entries.HasData)
            {
                serials.Add(Convert.ToHexString(entries.ReadSequence().ReadIntegerBytes().Span));
            }
        }
    }

    private static bool Verify(X509Certificate2 authority, string algorithm, byte[] signed, byte[] signature)
    {
        var hash = algorithm switch
        {
            "1.2.840.10045.4.3.2" or "1.2.840.113549.1.1.11" => HashAlgorithmName.SHA256,
            "1.2.840.10045.4.3.3" or "1.2.840.113549.1.1.12" => HashAlgorithmName.SHA384,
            "1.2.840.10045.4.3.4" or "1.2.840.113549.1.1.13" => HashAlgorithmName.SHA512,
            _ => throw new CryptographicException($"its signature algorithm {algorithm} is not ECDSA or RSA (PKCS#1) with SHA-2."),
        };
        using var ecdsa = authority.GetECDsaPublicKey();
        if (ecdsa is not null)
        {
            return ecdsa.VerifyData(signed, signature, hash, DSASignatureFormat.Rfc3279DerSequence);
        }

        using var rsa = authority.GetRSAPublicKey();
        return rsa is not null && rsa.VerifyData(signed, signature, hash, RSASignaturePadding.Pkcs1);
    }
}

/// <summary>When a file was last written and how big it was: a change of either means it was replaced. A missing file has size -1.</summary>
internal readonly record struct FileStamp(DateTime Written, long Size)
{
    public static FileStamp Of(string? path) =>
        path is not null && File.Exists(path) ? new FileStamp(File.GetLastWriteTimeUtc(path), new FileInfo(path).Length) : new FileStamp(default, -1);
}
