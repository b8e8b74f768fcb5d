using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace IoTHub.Broker.Security.Certificates;

/// <summary>
/// Where a tls:// or wss:// listener takes its clients' user names from ("Mqtt:Listeners:{name}:CertificateIdentity",
/// as Mosquitto's <c>use_identity_as_username</c>): the CONNECT's user name, or the client certificate.
/// </summary>
public enum CertificateIdentity
{
    /// <summary>The user name of CONNECT, checked by the authenticators.</summary>
    None,

    /// <summary>The certificate subject's Common Name (the first one).</summary>
    CommonName,

    /// <summary>The certificate's first Subject Alternative Name that is a DNS name, an e-mail address or a URI, in the certificate's order.</summary>
    SubjectAlternativeName,
}

/// <summary>Reads a <see cref="CertificateIdentity"/> from a client certificate.</summary>
public static class CertificateIdentities
{
    private const string CommonNameOid = "2.5.4.3";
    private const string SubjectAlternativeNameOid = "2.5.29.17";

    // GeneralName (RFC 5280 §4.2.1.6): rfc822Name [1], dNSName [2], uniformResourceIdentifier [6], each an IA5String.
    private const int Email = 1;
    private const int DnsName = 2;
    private const int Uri = 6;

    /// <summary>The identity, or null when there is no certificate or it has no such name.</summary>
    public static string? Read(X509Certificate2? certificate, CertificateIdentity identity) => certificate is null ? null : identity switch
    {
        CertificateIdentity.CommonName => CommonName(certificate),
        CertificateIdentity.SubjectAlternativeName => AlternativeName(certificate),
        _ => null,
    };

    private static string? CommonName(X509Certificate2 certificate)
    {
        foreach (var name in certificate.SubjectName.EnumerateRelativeDistinguishedNames(reversed: false))
        {
            if (!name.HasMultipleElements && name.GetSingleElementType().Value == CommonNameOid && name.GetSingleElementValue() is { Length: > 0 } value)
            {
                return value;
            }
        }

        return null;
    }

    private static string? AlternativeName(X509Certificate2 certificate)
    {
        if (certificate.Extensions[SubjectAlternativeNameOid] is not { } extension)
        {
            return null;
        }

        try
        {
            var names = new AsnReader(extension.RawData, AsnEncodingRules.DER).ReadSequence();
            while (names.HasData)
            {
                var tag = names.PeekTag();
                if (tag.TagClass == TagClass.ContextSpecific && tag.TagValue is Email or DnsName or Uri)
                {
                    return names.ReadCharacterString(UniversalTagNumber.IA5String, tag) is { Length: > 0 } value ? value : null;
                }

                names.ReadEncodedValue();
            }
        }
        catch (AsnContentException)
        {
            // The handshake accepted the certificate; a malformed extension only means it names no one.
        }
        catch (CryptographicException)
        {
        }

        return null;
    }
}
