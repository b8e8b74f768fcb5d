using System.Globalization;
using IoTHub.Testing;

namespace IoTHub.Interop.Tests;

/// <summary>
/// An interop host whose listeners use certificates made for it: the settings are built from the certificates, and the
/// fixture ends both.
/// </summary>
public abstract class CertificateHost : IDisposable
{
    protected CertificateHost(Func<TestCertificates, Dictionary<string, string>> settings)
    {
        Certificates = new TestCertificates();
        Host = new InteropHost(settings(Certificates));
    }

    public InteropHost Host { get; }

    public TestCertificates Certificates { get; }

    /// <summary>The port a listener of the default broker really holds, as mosquitto_pub's -p takes it.</summary>
    public string Port(string listener) => Host.Listener(listener).Port.ToString(CultureInfo.InvariantCulture);

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Host.Dispose();
            Certificates.Dispose();
        }
    }
}
