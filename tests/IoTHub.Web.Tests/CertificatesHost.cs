using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>An admin API host with certificates of its own for its listeners, made before it starts and deleted with it.</summary>
public abstract class CertificatesHost : AdminApiHost
{
    /// <param name="settings">The host's settings, which may name certificates it issues from <see cref="Certificates"/>.</param>
    protected CertificatesHost(Func<TestCertificates, Dictionary<string, string>> settings)
        : this(new TestCertificates(), settings)
    {
    }

    private CertificatesHost(TestCertificates certificates, Func<TestCertificates, Dictionary<string, string>> settings)
        : base(settings(certificates))
    {
        Certificates = certificates;
    }

    public TestCertificates Certificates { get; }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            Certificates.Dispose();
        }
    }
}
