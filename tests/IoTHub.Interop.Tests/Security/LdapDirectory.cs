using IoTHub.Testing;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// A real OpenLDAP server (<see cref="LdapServer"/>) holding the worked example of docs/security.md#ldap (the service
/// account <c>cn=broker</c>, the device <c>field-unit-3</c> in the group <c>operators</c>) and the tests' devices: each
/// with the password <see cref="Password"/> of its name; sensor-1 in technicians, sensor-2 and sensor-3 in no group,
/// root-device in admins.
/// </summary>
public sealed class LdapDirectory : IAsyncLifetime
{
    /// <summary>The LDIF of docs/security.md#ldap, as written there.</summary>
    public const string DocumentedEntries = """
        dn: ou=services,dc=example,dc=org
        objectClass: organizationalUnit
        ou: services

        dn: cn=broker,ou=services,dc=example,dc=org
        objectClass: organizationalRole
        objectClass: simpleSecurityObject
        cn: broker
        userPassword: {SSHA}1HEIyuLNpQmLwksQjJIDpQ0uJdyTuTBP

        dn: ou=devices,dc=example,dc=org
        objectClass: organizationalUnit
        ou: devices

        dn: uid=field-unit-3,ou=devices,dc=example,dc=org
        objectClass: inetOrgPerson
        uid: field-unit-3
        cn: field-unit-3
        sn: field-unit-3
        userPassword: {SSHA}4qELfW9uAoTK1Ygo/epynVEGrZiTV2SZ

        dn: ou=groups,dc=example,dc=org
        objectClass: organizationalUnit
        ou: groups

        dn: cn=operators,ou=groups,dc=example,dc=org
        objectClass: groupOfNames
        cn: operators
        member: uid=field-unit-3,ou=devices,dc=example,dc=org

        """;

    /// <summary>The service account's password (the documented hash is of it).</summary>
    public const string BindPassword = "broker-ldap-password";

    public const string BindDn = "cn=broker,ou=services,dc=example,dc=org";
    public const string Devices = "ou=devices,dc=example,dc=org";
    public const string Groups = "ou=groups,dc=example,dc=org";

    public LdapServer Server { get; } = new(string.Join("\n\n", DocumentedEntries, Device("sensor-1"), Device("sensor-2"), Device("sensor-3"), Device("root-device"), """
        dn: cn=admins,ou=groups,dc=example,dc=org
        objectClass: groupOfNames
        cn: admins
        member: uid=root-device,ou=devices,dc=example,dc=org

        dn: cn=technicians,ou=groups,dc=example,dc=org
        objectClass: groupOfNames
        cn: technicians
        member: uid=sensor-1,ou=devices,dc=example,dc=org
        """));

    public static string Password(string device) => "pw-" + device;

    public Task InitializeAsync() => Server.InitializeAsync();

    public Task DisposeAsync() => Server.DisposeAsync();

    private static string Device(string uid) => $"""
        dn: uid={uid},ou=devices,dc=example,dc=org
        objectClass: inetOrgPerson
        uid: {uid}
        cn: {uid}
        sn: {uid}
        userPassword: {Password(uid)}
        """;
}
