using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IoTHub.Cluster.Tls;
using IoTHub.Web.Configuration;
using IoTHub.Web.Transports.Tls;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTHub.Web.Cluster;

/// <summary>
/// Section "Cluster:Tls": mutual TLS between the nodes (docs/clustering.md#node-to-node-traffic). The files are loaded as an MQTT
/// listener's are (<see cref="ServerCertificate"/>, <see cref="ClientAuthority"/>) and checked at start: each missing or unusable
/// file, each missing path and a node certificate the CA did not sign is reported under its own key.
/// </summary>
internal static class NodeTlsSettings
{
    public const string SectionName = "Tls";

    private const string Section = ClusterOptions.SectionName + ":" + SectionName;

    private const string EnabledKey = "Enabled";
    private const string CertificateKey = "CertificatePath";
    private const string KeyKey = "KeyPath";
    private const string PasswordKey = "Password";
    private const string CaKey = "CaPath";

    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    /// <summary>
    /// Reads the keys; with Cluster:Tls:Enabled and <paramref name="clusterEnabled"/>, loads the files (null, with the problems
    /// recorded, when one cannot be used). Null when TLS is off: the node-to-node traffic is plain.
    /// </summary>
    public static NodeTls? Read(SectionReader reader, bool clusterEnabled)
    {
        var enabled = reader.Flag(EnabledKey, false);
        var certificatePath = reader.Text(CertificateKey, string.Empty);
        var keyPath = reader.Text(KeyKey, string.Empty);
        var password = reader.Text(PasswordKey, string.Empty);
        var caPath = reader.Text(CaKey, string.Empty);
        reader.RejectUnknownKeys();
        if (!enabled || !clusterEnabled)
        {
            return null;
        }

        var problems = reader.Errors.Count;
        Require(reader, CertificateKey, certificatePath, "this node's certificate: a PEM file with KeyPath, or a PFX file");
        Require(reader, CaKey, caPath, "a PEM file of the CA that signs the node certificates");
        RequireFile(reader, CertificateKey, certificatePath);
        RequireFile(reader, KeyKey, keyPath);
        RequireFile(reader, CaKey, caPath);
        if (reader.Errors.Count > problems)
        {
            return null;
        }

        ServerCertificate? own = null;
        ClientAuthority? authority = null;
        try
        {
            own = ServerCertificate.Load(new CertificateFiles(Path.GetFullPath(certificatePath), keyPath.Length == 0 ? null : Path.GetFullPath(keyPath),
                password.Length == 0 ? null : password), DateTimeOffset.UtcNow);
        }
        catch (CertificateProblemException e)
        {
            reader.Fail(CertificateKey, e.Message);
        }

        try
        {
            authority = ClientAuthority.Load(Path.GetFullPath(caPath), revocationPath: null);
        }
        catch (CertificateProblemException e)
        {
            reader.Fail(CaKey, e.Message);
        }

        if (own is null || authority is null)
        {
            return null;
        }

        // A node is a TLS client and a TLS server; its peers check its certificate as the MQTT listeners check a client's.
        var check = new ClientCertificateValidator(authority, ClientCertificateRequirement.Required, TimeProvider.System, NullLogger.Instance);
        if (!check.Validate(own, own.Certificate, null, default) || !AllowsServerAuthentication(own.Certificate))
        {
            reader.Fail(CertificateKey, $"'{certificatePath}' is not a node certificate of this cluster: it must be signed by the CA of {Section}:{CaKey} " +
                $"('{caPath}') and allow TLS server and client authentication (extendedKeyUsage serverAuth,clientAuth), or the other nodes refuse it.");
            return null;
        }

        return new NodeTls(own.Certificate, authority.AuthorityPath, check.Validate);
    }

    private static void Require(SectionReader reader, string key, string value, string what)
    {
        if (value.Length == 0)
        {
            reader.Fail(key, $"must be set when {Section}:{EnabledKey} is true ({what}).");
        }
    }

    private static void RequireFile(SectionReader reader, string key, string path)
    {
        if (path.Length > 0 && !File.Exists(path))
        {
            reader.Fail(key, $"'{path}' does not exist.");
        }
    }

    /// <summary>A certificate without extended key usages may serve any; one with them must list TLS server authentication.</summary>
    private static bool AllowsServerAuthentication(X509Certificate2 certificate)
    {
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509EnhancedKeyUsageExtension usages)
            {
                return usages.EnhancedKeyUsages.Cast<Oid>().Any(static usage => usage.Value == ServerAuthentication.Value);
            }
        }

        return true;
    }
}
