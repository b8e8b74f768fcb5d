using System.Globalization;
using System.Net.Sockets;
using Xunit;

namespace IoTHub.Testing;

/// <summary>
/// A real OpenLDAP server for the tests, from Debian's `slapd` (test.sh installs it): a generated slapd.conf and an mdb
/// database of <c>dc=example,dc=org</c> in a temp folder, loaded with slapadd from the entries the test gives, listening
/// on 127.0.0.1 with ldap:// (StartTLS) and ldaps:// at free ports, with a server certificate of its own test authority.
/// Anonymous clients may only bind; bound ones read everything but passwords. Stopped and deleted on dispose, also when
/// tests failed, and killed at process exit if the run is cut short.
/// </summary>
/// <param name="entries">LDIF of the entries under <see cref="Suffix"/> (the suffix entry itself is made here).</param>
public sealed class LdapServer(string entries) : IAsyncLifetime
{
    public const string Suffix = "dc=example,dc=org";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private string? _folder;
    private ChildProcess? _server;

    /// <summary>The authority that signed the server's certificate: its PEM file is <c>Certificates.Authority</c>.</summary>
    public TestCertificates Certificates { get; } = new();

    /// <summary>Chosen when it is made, so that a host can be configured before the server starts.</summary>
    public int Port { get; } = FreePort.Next();

    public int SecurePort { get; } = FreePort.Next();

    /// <summary><c>ldap://127.0.0.1:port</c>, for StartTLS or plain LDAP.</summary>
    public string Url => string.Create(CultureInfo.InvariantCulture, $"ldap://127.0.0.1:{Port}");

    /// <summary><c>ldaps://127.0.0.1:port</c>.</summary>
    public string SecureUrl => string.Create(CultureInfo.InvariantCulture, $"ldaps://127.0.0.1:{SecurePort}");

    private string Config => Path.Combine(_folder!, "slapd.conf");

    public async Task InitializeAsync()
    {
        if (!File.Exists("/usr/sbin/slapd"))
        {
            throw new InvalidOperationException("OpenLDAP is not installed: apt-get install -y slapd (./test.sh does this).");
        }

        _folder = Directory.CreateTempSubdirectory("iothub-slapd-").FullName;
        Directory.CreateDirectory(Path.Combine(_folder, "data"));
        var certificate = Certificates.Server("slapd");
        await File.WriteAllTextAsync(Config, $"""
            include /etc/ldap/schema/core.schema
            include /etc/ldap/schema/cosine.schema
            include /etc/ldap/schema/inetorgperson.schema
            pidfile {_folder}/slapd.pid
            modulepath /usr/lib/ldap
            moduleload back_mdb
            TLSCertificateFile {certificate.Certificate}
            TLSCertificateKeyFile {certificate.Key}
            database mdb
            suffix "{Suffix}"
            rootdn "cn=admin,{Suffix}"
            directory {_folder}/data
            maxsize 10485760
            access to attrs=userPassword by anonymous auth by * none
            access to * by users read by * none

            """);
        var ldif = Path.Combine(_folder, "entries.ldif");
        await File.WriteAllTextAsync(ldif, $"""
            dn: {Suffix}
            objectClass: dcObject
            objectClass: organization
            o: Example
            dc: example

            {entries}
            """);
        using (var load = ChildProcess.Start("/usr/sbin/slapadd", ["-f", Config, "-l", ldif]))
        {
            if (await load.WaitForExitAsync(StartTimeout) != 0)
            {
                throw new InvalidOperationException($"slapadd failed: {load.Describe()}");
            }
        }

        AppDomain.CurrentDomain.ProcessExit += StopAtExit;
        await StartAsync();
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        AppDomain.CurrentDomain.ProcessExit -= StopAtExit;
        Certificates.Dispose();
        if (_folder is not null)
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    /// <summary>Starts the server (again, after <see cref="StopAsync"/>) on the same ports; returns once both accept connections.</summary>
    public async Task StartAsync()
    {
        // -d 0: in the foreground, as this process's child, logging nothing.
        _server = ChildProcess.Start("/usr/sbin/slapd", ["-f", Config, "-h", $"{Url}/ {SecureUrl}/", "-d", "0"]);
        await Poll.UntilAsync(async () =>
        {
            if (_server.HasExited)
            {
                throw new InvalidOperationException($"slapd exited at start: {_server.Describe()}");
            }

            return await AcceptsAsync(Port) && await AcceptsAsync(SecurePort);
        }, StartTimeout, "slapd did not accept connections in time");
    }

    /// <summary>Stops the server: its connections are closed, new ones refused.</summary>
    public async Task StopAsync()
    {
        if (_server is { } server)
        {
            server.Dispose();
            await Poll.UntilAsync(async () => !await AcceptsAsync(Port), StartTimeout, "slapd still accepts connections");
        }

        _server = null;
    }

    /// <summary>SIGSTOP: the server accepts connections (the kernel does) but answers nothing until <see cref="Resume"/>.</summary>
    public Task SuspendAsync() => _server!.SuspendAsync();

    public void Resume() => _server!.Resume();

    private static async Task<bool> AcceptsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void StopAtExit(object? sender, EventArgs e) => _server?.Dispose();
}
