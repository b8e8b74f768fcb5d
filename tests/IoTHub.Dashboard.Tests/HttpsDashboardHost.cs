using IoTHub.Testing;

namespace IoTHub.Dashboard.Tests;

/// <summary>The dashboard host over HTTPS (Http:Certificate and Http:CertificateKey), with a certificate from a test authority.</summary>
public sealed class HttpsDashboardHost : DashboardHost
{
    private readonly TestCertificates _certificates;

    public HttpsDashboardHost()
        : this(new TestCertificates())
    {
    }

    private HttpsDashboardHost(TestCertificates certificates)
        : base(Settings(certificates), certificates)
    {
        _certificates = certificates;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _certificates.Dispose();
        }
    }

    private static Dictionary<string, string> Settings(TestCertificates certificates)
    {
        var server = certificates.Server("dashboard");
        return new() { ["Http:Certificate"] = server.Certificate, ["Http:CertificateKey"] = server.Key };
    }
}
