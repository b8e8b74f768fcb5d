using System.Text;
using IoTHub.Testing;

namespace IoTHub.LoadTest;

/// <summary>
/// The connect-ldap scenarios' directory: a real OpenLDAP (the tests' <see cref="LdapServer"/>, Debian's slapd in a temp
/// folder) holding docs/security.md's worked example's service account and one device with a salted SHA-1 password
/// (<c>{SSHA}</c>, what slappasswd makes), and IoTHub's <c>Type=Ldap</c> authenticator in search mode over StartTLS as
/// the example configures it, without groups: per decision a search as the service account and a bind as the device, on
/// connections kept open. slapd counts nothing the tool could read cheaply, so the requests are not counted.
/// </summary>
internal sealed class LdapUsers : IAuthenticationBackend
{
    private const string User = "bench-ldap";

    /// <summary>The passwords of docs/security.md's example, whose <c>{SSHA}</c> hashes are below.</summary>
    private const string Password = "s3cret";

    private const string ServicePassword = "broker-ldap-password";
    private const string ServiceDn = "cn=broker,ou=services," + LdapServer.Suffix;
    private const string Devices = "ou=devices," + LdapServer.Suffix;

    private readonly LdapServer _server;

    private LdapUsers(LdapServer server)
    {
        _server = server;
        Settings = new Dictionary<string, string>
        {
            ["Type"] = "Ldap",
            ["Url"] = server.Url,
            ["StartTls"] = "true",
            ["CaFile"] = server.Certificates.Authority,
            ["BindDn"] = ServiceDn,
            ["BindPassword"] = ServicePassword,
            ["BaseDn"] = Devices,
            ["UserFilter"] = "(&(objectClass=inetOrgPerson)(uid={username}))",
        };
    }

    public IReadOnlyDictionary<string, string> Settings { get; }

    public Credentials Credentials { get; } = new(User, Encoding.UTF8.GetBytes(Password), PasswordFile: null);

    public static async Task<LdapUsers> StartAsync()
    {
        var server = new LdapServer($"""
            dn: ou=services,{LdapServer.Suffix}
            objectClass: organizationalUnit
            ou: services

            dn: {ServiceDn}
            objectClass: organizationalRole
            objectClass: simpleSecurityObject
            cn: broker
            userPassword: {"{SSHA}"}1HEIyuLNpQmLwksQjJIDpQ0uJdyTuTBP

            dn: {Devices}
            objectClass: organizationalUnit
            ou: devices

            dn: uid={User},{Devices}
            objectClass: inetOrgPerson
            uid: {User}
            cn: {User}
            sn: {User}
            userPassword: {"{SSHA}"}4qELfW9uAoTK1Ygo/epynVEGrZiTV2SZ

            """);
        try
        {
            await server.InitializeAsync().ConfigureAwait(false);
            return new LdapUsers(server);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public Task<string?> CountAsync() => Task.FromResult<string?>(null);

    public async ValueTask DisposeAsync() => await _server.DisposeAsync().ConfigureAwait(false);
}
