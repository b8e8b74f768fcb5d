using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace IoTHub.Web.Transports.Tls;

/// <summary>
/// Mutual TLS: a client certificate is accepted when it chains to one of the listener's authorities (and only
/// those: the system's trusted roots play no part), is within its validity period, when it names its uses, may
/// authenticate a TLS client, and no revocation list of the listener revokes it or an intermediate (no OCSP, no
/// downloads). The authority and revocation files are loaded again when they change (<see cref="ReloadChanged"/>).
/// </summary>
internal sealed partial class ClientCertificateValidator(ClientAuthority authority, ClientCertificateRequirement requirement, TimeProvider time, ILogger logger)
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private ClientAuthority _authority = authority;
    private (FileStamp, FileStamp) _seen = authority.Stamp;

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return requirement == ClientCertificateRequirement.Optional;
        }

        var current = Volatile.Read(ref _authority);
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(current.Authorities);
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

        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData())) && !current.Revokes(chain);
    }

    /// <summary>
    /// Loads the authority and revocation files again when their time or size changed (called at most once a second, under
    /// the reload lock). Files that cannot be used are logged and the loaded ones stay until the files change again.
    /// </summary>
    public void ReloadChanged()
    {
        var current = _authority;
        var stamp = ClientAuthority.StampOf(current.AuthorityPath, current.RevocationPath);
        if (stamp == _seen)
        {
            return;
        }

        _seen = stamp;
        try
        {
            Volatile.Write(ref _authority, ClientAuthority.Load(current.AuthorityPath, current.RevocationPath));
            LogReloaded(logger, current.AuthorityPath, current.RevocationPath ?? "none");
        }
        catch (CertificateProblemException e)
        {
            LogReloadFailed(logger, e.Message);
        }
    }

    [LoggerMessage(EventId = 1302, Level = LogLevel.Information, Message = "Client certificate authority {Authority} and revocation list {RevocationList} reloaded; new handshakes use them")]
    private static partial void LogReloaded(ILogger logger, string authority, string revocationList);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Warning, Message = "Client certificate authority or revocation list changed but cannot be used, the loaded ones stay: {Problem}")]
    private static partial void LogReloadFailed(ILogger logger, string problem);
}
