using IoTHub.Testing;

namespace IoTHub.Dashboard.Tests;

/// <summary>The dashboard host over HTTPS (Http:Certificate and Http:CertificateKey), with a certificate from a test authority.</summary>
public sealed class HttpsDashboardHost : DashboardHost
{
    public HttpsDashboardHost()
        : this(new TestCertificates())
    {
    }

    private HttpsDashboardHost(TestCertificates certificates)
        : base(Settings(certificates), certificates)
    {
        Certificates = certificates;
    }

    /// <summary>The authority of the host's certificate.</summary>
    public TestCertificates Certificates { get; }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            Certificates.Dispose();
        }
    }

    private static Dictionary<string, string> Settings(TestCertificates certificates)
    {
        var server = certificates.Server("dashboard");
        return new() { ["Http:Certificate"] = server.Certificate, ["Http:CertificateKey"] = server.Key };
    }
}
