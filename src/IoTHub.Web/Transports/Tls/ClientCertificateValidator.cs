using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace IoTHub.Web.Transports.Tls;

/// <summary>
/// Mutual TLS: a client certificate is accepted when it chains to one of the listener's authorities (and only
/// those: the system's trusted roots play no part), is within its validity period and, when it names its
/// uses, may authenticate a TLS client. Revocation is not checked.
/// </summary>
internal sealed class ClientCertificateValidator(X509Certificate2Collection authority, ClientCertificateRequirement requirement, TimeProvider time)
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return requirement == ClientCertificateRequirement.Optional;
        }

        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(authority);
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.ApplicationPolicy.Add(ClientAuthentication);
        policy.VerificationTime = time.GetUtcNow().UtcDateTime;
        policy.VerificationTimeIgnored = false;
        if (presented is not null)
        {
            // The intermediates the client sent with its certificate.
            foreach (var element in presented.ChainElements)
            {
                policy.ExtraStore.Add(element.Certificate);
            }
        }

        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }
}
