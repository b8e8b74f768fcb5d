using IoTHub.Broker.Security.Backends;
using IoTHub.Testing;
using IoTHub.Web.Configuration;
using IoTHub.Web.Security.Ldap;
using IoTHub.Web.Security.Sql;
using Microsoft.Extensions.Configuration;

namespace IoTHub.Web.Tests.Security;

/// <summary>
/// The "Security" section (issue 15): its keys, every bad one reported, and the secure default checked with the real
/// host process: an MQTT listener beyond loopback without an authenticator stops the host unless anonymous clients are
/// allowed explicitly, which is then warned about at every start.
/// </summary>
public sealed class SecuritySettingsTests : IDisposable
{
    private readonly TempDirectory _workingDirectory = new();

    [Fact]
    public void The_authenticators_are_read_in_order_and_PasswordFile_stands_for_one()
    {
        var listed = Read(new()
        {
            ["Security:Authenticators:0:Type"] = "PasswordFile",
            ["Security:Authenticators:0:Path"] = "first",
            ["Security:Authenticators:1:Type"] = "passwordfile",
            ["Security:Authenticators:1:Path"] = "second",
            ["Security:AllowAnonymous"] = "false",
            ["Security:CacheDuration"] = "00:00:05",
            ["Security:PasswordHashIterations"] = "210000",
        }, out var errors);

        Assert.Empty(errors);
        Assert.Equal(["first", "second"], listed.Authenticators.Select(static a => a.Path));
        Assert.False(listed.AllowAnonymous);
        Assert.Equal(TimeSpan.FromSeconds(5), listed.CacheDuration);
        Assert.Equal(210_000, listed.PasswordHashIterations);

        var mixed = Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Database",
            ["Security:Authenticators:1:Type"] = "PasswordFile",
            ["Security:Authenticators:1:Path"] = "file",
        }, out errors);
        Assert.Empty(errors);
        Assert.Equal([AuthenticatorType.Database, AuthenticatorType.PasswordFile], mixed.Authenticators.Select(static a => a.Type));

        var shortcut = Read(new() { ["Security:PasswordFile"] = "/etc/mosquitto/passwd" }, out errors);
        Assert.Empty(errors);
        Assert.Equal((AuthenticatorType.PasswordFile, "/etc/mosquitto/passwd"), (shortcut.Authenticators.Single().Type, shortcut.Authenticators.Single().Path));
        Assert.Null(shortcut.AllowAnonymous); // not set: decided from the authenticators and listeners
        Assert.Equal(TimeSpan.FromSeconds(60), shortcut.CacheDuration);
        Assert.Equal(10_000, shortcut.PasswordHashIterations); // NIST SP 800-63B's minimum (docs/security.md#database-users)
    }

    [Fact]
    public void Every_bad_key_is_reported()
    {
        Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Database",
            ["Security:Authenticators:0:Path"] = "x", // the database has no file
            ["Security:Authenticators:4:Type"] = "database",
            ["Security:Authenticators:1:Type"] = "Kerberos",
            ["Security:Authenticators:2:Path"] = "no-type",
            ["Security:Authenticators:3:Type"] = "PasswordFile",
            ["Security:Authenticators:3:File"] = "typo",
            ["Security:PasswordFile"] = "also",
            ["Security:AllowAnonymous"] = "yes",
            ["Security:CacheDuration"] = "forever",
            ["Security:PasswordHashIterations"] = "999",
            ["Security:AllowAnonymus"] = "true",
        }, out var errors);

        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:0:Path is not a known setting", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:4:Type Database is listed more than once", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:1:Type 'Kerberos' is not an available authenticator type (available: PasswordFile, Database, Webhook, Sql, Jwt, Ldap)", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:1:Path must be set", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:2:Type must be set", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:3:File is not a known setting", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:AllowAnonymous 'yes' is not true or false", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:CacheDuration 'forever'", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:PasswordHashIterations", StringComparison.Ordinal) && e.Contains("999", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:AllowAnonymus is not a known setting", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:PasswordFile is a shortcut for one authenticator and cannot be combined", StringComparison.Ordinal));
    }

    [Fact]
    public void A_webhook_takes_a_url_a_ca_file_headers_a_timeout_and_a_failure_policy()
    {
        var read = Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Webhook",
            ["Security:Authenticators:0:Url"] = "https://auth.example.com/mqtt?token=t",
            ["Security:Authenticators:0:CaFile"] = "certs/ca.pem",
            ["Security:Authenticators:0:Headers:Authorization"] = "Bearer service-token",
            ["Security:Authenticators:0:Headers:X-Tenant"] = "plant-7",
            ["Security:Authenticators:0:Timeout"] = "00:00:01.500",
            ["Security:Authenticators:0:FailurePolicy"] = "notmine",
            ["Security:Authenticators:1:Type"] = "webhook",
            ["Security:Authenticators:1:Url"] = "http://127.0.0.1:8081/auth",
        }, out var errors);

        Assert.Empty(errors);
        var (first, second) = (read.Authenticators[0], read.Authenticators[1]);
        Assert.Equal(("Security:Authenticators:0", AuthenticatorType.Webhook, new BackendOptions(TimeSpan.FromMilliseconds(1500), BackendFailurePolicy.NotMine)),
            (first.Key, first.Type, first.Backend));
        Assert.Equal((new Uri("https://auth.example.com/mqtt?token=t"), "certs/ca.pem"), (first.Webhook!.Url, first.Webhook.CaFile));
        Assert.Equal([new("Authorization", "Bearer service-token"), new("X-Tenant", "plant-7")], first.Webhook.Headers);
        Assert.Equal(("Security:Authenticators:1", new BackendOptions(TimeSpan.FromSeconds(5), BackendFailurePolicy.Deny)), (second.Key, second.Backend));
        Assert.Equal((new Uri("http://127.0.0.1:8081/auth"), null), (second.Webhook!.Url, second.Webhook.CaFile));
        Assert.Empty(second.Webhook.Headers);
    }

    [Fact]
    public void Every_bad_webhook_key_is_reported()
    {
        Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Webhook",
            ["Security:Authenticators:1:Type"] = "Webhook",
            ["Security:Authenticators:1:Url"] = "/relative",
            ["Security:Authenticators:1:Timeout"] = "00:00:00",
            ["Security:Authenticators:1:FailurePolicy"] = "Allow",
            ["Security:Authenticators:2:Type"] = "Webhook",
            ["Security:Authenticators:2:Url"] = "ftp://auth.example.com/",
            ["Security:Authenticators:2:Timeout"] = "-00:00:01",
            ["Security:Authenticators:2:Path"] = "file",
            ["Security:Authenticators:3:Type"] = "Webhook",
            ["Security:Authenticators:3:Url"] = "https://user:secret@auth.example.com/",
            ["Security:Authenticators:3:Header"] = "x",
            ["Security:Authenticators:4:Type"] = "PasswordFile",
            ["Security:Authenticators:4:Path"] = "file",
            ["Security:Authenticators:4:Timeout"] = "00:00:05",
            ["Security:Authenticators:5:Type"] = "Webhook",
            ["Security:Authenticators:5:Url"] = "http://auth.example.com/",
            ["Security:Authenticators:5:CaFile"] = "ca.pem",
            ["Security:Authenticators:5:Headers:Bad Name"] = "x",
            ["Security:Authenticators:5:Headers:Host"] = "auth.example.com",
            ["Security:Authenticators:5:Headers:Authorization"] = "Bearer hunter2\r\nX-Injected: 1",
            ["Security:Authenticators:5:Headers:X-Deep:Level"] = "x",
        }, out var errors);

        Assert.Equal(
        [
            "Security:Authenticators:0:Url must be set.",
            "Security:Authenticators:1:Url '/relative' is not an absolute http:// or https:// URL without a user name or password.",
            "Security:Authenticators:1:Timeout '00:00:00' is not a positive duration such as 00:00:10 (hh:mm:ss) or 7.00:00:00 (days).",
            "Security:Authenticators:1:FailurePolicy 'Allow' is not one of Deny, NotMine.",
            "Security:Authenticators:2:Url 'ftp://auth.example.com/' is not an absolute http:// or https:// URL without a user name or password.",
            "Security:Authenticators:2:Timeout '-00:00:01' is not a positive duration such as 00:00:10 (hh:mm:ss) or 7.00:00:00 (days).",
            "Security:Authenticators:2:Path is not a known setting (known: Type, Url, CaFile, Headers, Timeout, FailurePolicy).",
            "Security:Authenticators:3:Url 'https://user:secret@auth.example.com/' is not an absolute http:// or https:// URL without a user name or password.",
            "Security:Authenticators:3:Header is not a known setting (known: Type, Url, CaFile, Headers, Timeout, FailurePolicy).",
            "Security:Authenticators:4:Timeout is not a known setting (known: Type, Path).",
            "Security:Authenticators:5:CaFile applies to an https:// Url only.",
            "Security:Authenticators:5:Headers:X-Deep is not a value.",
            "Security:Authenticators:5:Headers:Authorization holds a control character such as a line break (the value is not shown: it may be a secret).",
            "Security:Authenticators:5:Headers:Bad Name is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~).",
            "Security:Authenticators:5:Headers:Host cannot be set: the broker writes it (reserved: Host, Content-Type, Content-Length, Transfer-Encoding, Connection).",
        ], errors);
        Assert.DoesNotContain(errors, static e => e.Contains("hunter2", StringComparison.Ordinal));
    }

    [Fact]
    public void Sql_authenticators_take_a_provider_a_connection_string_a_query_and_a_hash()
    {
        const string Connection = "Host=db.example.com;Database=iot;Username=broker;Password=p";
        var read = Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Sql",
            ["Security:Authenticators:0:Provider"] = "postgresql",
            ["Security:Authenticators:0:ConnectionString"] = Connection,
            ["Security:Authenticators:0:Query"] = "SELECT password_hash, salt FROM devices WHERE name = @UserName AND owner = 'ops@example.com' AND @clientid <> @peeraddress",
            ["Security:Authenticators:0:PasswordHash"] = "sha256",
            ["Security:Authenticators:0:SaltPosition"] = "Suffix",
            ["Security:Authenticators:0:FailurePolicy"] = "NotMine",
            ["Security:Authenticators:1:Type"] = "Sql",
            ["Security:Authenticators:1:Provider"] = "PostgreSql",
            ["Security:Authenticators:1:ConnectionString"] = Connection,
            ["Security:Authenticators:1:Query"] = "SELECT hash AS password_hash FROM devices WHERE name = @username",
            ["Security:Authenticators:1:PasswordHash"] = "Pbkdf2Sha512",
            ["Security:Authenticators:1:Iterations"] = "27500",
            ["Security:Authenticators:2:Type"] = "Sql",
            ["Security:Authenticators:2:Provider"] = "MySql",
            ["Security:Authenticators:2:ConnectionString"] = "Server=127.0.0.1;Database=iot;User ID=broker;Password=p",
            ["Security:Authenticators:2:Query"] = "SELECT password_hash FROM devices WHERE name = @username",
            ["Security:Authenticators:2:PasswordHash"] = "Bcrypt",
        }, out var errors);

        Assert.Empty(errors);
        Assert.Equal(
        [
            new("Security:Authenticators:0", AuthenticatorType.Sql, string.Empty, new BackendOptions(TimeSpan.FromSeconds(5), BackendFailurePolicy.NotMine),
                Sql: new SqlOptions(SqlProvider.PostgreSql, Connection,
                    "SELECT password_hash, salt FROM devices WHERE name = @UserName AND owner = 'ops@example.com' AND @clientid <> @peeraddress",
                    SqlPasswordHash.Sha256, SaltPosition.Suffix, null)),
            new AuthenticatorOptions("Security:Authenticators:1", AuthenticatorType.Sql, string.Empty, new BackendOptions(TimeSpan.FromSeconds(5), BackendFailurePolicy.Deny),
                Sql: new SqlOptions(SqlProvider.PostgreSql, Connection, "SELECT hash AS password_hash FROM devices WHERE name = @username",
                    SqlPasswordHash.Pbkdf2Sha512, SaltPosition.Prefix, 27500)),
            new AuthenticatorOptions("Security:Authenticators:2", AuthenticatorType.Sql, string.Empty, new BackendOptions(TimeSpan.FromSeconds(5), BackendFailurePolicy.Deny),
                Sql: new SqlOptions(SqlProvider.MySql, "Server=127.0.0.1;Database=iot;User ID=broker;Password=p",
                    "SELECT password_hash FROM devices WHERE name = @username", SqlPasswordHash.Bcrypt, SaltPosition.Prefix, null)),
        ], read.Authenticators);
        Assert.DoesNotContain("Password=p", read.Authenticators[0].ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_sql_key_is_reported_without_the_connection_strings_password()
    {
        Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Sql",
            ["Security:Authenticators:1:Type"] = "Sql",
            ["Security:Authenticators:1:Provider"] = "Oracle",
            ["Security:Authenticators:1:ConnectionString"] = "Host=db;Password=hunter2;Colour=blue",
            ["Security:Authenticators:1:Query"] = "SELECT password_hash FROM devices WHERE name = @user_name",
            ["Security:Authenticators:1:PasswordHash"] = "Md5",
            ["Security:Authenticators:2:Type"] = "Sql",
            ["Security:Authenticators:2:Provider"] = "PostgreSql",
            ["Security:Authenticators:2:ConnectionString"] = "Host=db",
            ["Security:Authenticators:2:Query"] = "SELECT password_hash FROM devices WHERE name = 'admin'",
            ["Security:Authenticators:2:PasswordHash"] = "Bcrypt",
            ["Security:Authenticators:2:SaltPosition"] = "Prefix",
            ["Security:Authenticators:2:Iterations"] = "1000",
            ["Security:Authenticators:2:Url"] = "http://127.0.0.1/",
            ["Security:Authenticators:3:Type"] = "Sql",
            ["Security:Authenticators:3:Provider"] = "PostgreSql",
            ["Security:Authenticators:3:ConnectionString"] = "Host=db",
            ["Security:Authenticators:3:Query"] = " ",
            ["Security:Authenticators:3:PasswordHash"] = "Pbkdf2Sha256",
            ["Security:Authenticators:3:Iterations"] = "0",
            ["Security:Authenticators:3:SaltPosition"] = "Middle",
            ["Security:Authenticators:4:Type"] = "Sql",
            ["Security:Authenticators:4:Provider"] = "MySql",
            ["Security:Authenticators:4:ConnectionString"] = "Server=db;Password=hunter3;Colour=blue",
            ["Security:Authenticators:4:Query"] = "SELECT password_hash FROM devices WHERE name = @username",
            ["Security:Authenticators:4:PasswordHash"] = "Bcrypt",
        }, out var errors);

        Assert.Equal(
        [
            "Security:Authenticators:0:Provider must be set.",
            "Security:Authenticators:0:ConnectionString must be set.",
            "Security:Authenticators:0:Query must be set.",
            "Security:Authenticators:0:PasswordHash must be set.",
            "Security:Authenticators:1:Provider 'Oracle' is not one of PostgreSql, MySql.",
            "Security:Authenticators:1:ConnectionString is not a PostgreSQL connection string of Npgsql's keywords, such as " +
            "Host=127.0.0.1;Port=5432;Database=iot;Username=broker;Password=... (the value is not shown: it may hold a password).",
            "Security:Authenticators:1:Query does not use @username: it must look the client's user name up.",
            "Security:Authenticators:1:Query uses @user_name, which is not a parameter (available: @username, @clientid, @peeraddress).",
            "Security:Authenticators:1:PasswordHash 'Md5' is not one of Bcrypt, Pbkdf2Sha256, Pbkdf2Sha512, Sha256, Plain.",
            "Security:Authenticators:2:Query does not use @username: it must look the client's user name up.",
            "Security:Authenticators:2:SaltPosition applies to PasswordHash Sha256 only.",
            "Security:Authenticators:2:Iterations applies to PasswordHash Pbkdf2Sha256 and Pbkdf2Sha512 only.",
            "Security:Authenticators:2:Url is not a known setting (known: Type, Provider, ConnectionString, Query, PasswordHash, SaltPosition, Iterations, Timeout, FailurePolicy).",
            "Security:Authenticators:3:Query ' ' must not be empty.",
            "Security:Authenticators:3:SaltPosition 'Middle' is not one of Prefix, Suffix.",
            "Security:Authenticators:3:Iterations '0' is not a whole number from 1 to 10000000.",
            "Security:Authenticators:4:ConnectionString is not a MySQL connection string of MySqlConnector's keywords, such as " +
            "Server=127.0.0.1;Port=3306;Database=iot;User ID=broker;Password=... (the value is not shown: it may hold a password).",
        ], errors);
        Assert.DoesNotContain(errors, static e => e.Contains("hunter", StringComparison.Ordinal));
    }

    [Fact]
    public void Jwt_authenticators_are_read_and_their_bad_keys_reported_without_quoting_the_secret()
    {
        var good = Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Jwt",
            ["Security:Authenticators:0:Secret"] = new string('s', 32),
            ["Security:Authenticators:0:Issuer"] = "https://issuer.test",
            ["Security:Authenticators:0:ClientIdClaim"] = "client_id",
            ["Security:Authenticators:0:RolesClaim"] = "groups",
            ["Security:Authenticators:1:Type"] = "jwt",
            ["Security:Authenticators:1:JwksUrl"] = "https://issuer.test/jwks.json",
            ["Security:Authenticators:1:JwksRefresh"] = "00:01:00",
            ["Security:Authenticators:1:Audience"] = "iothub",
            ["Security:Authenticators:1:ClockSkew"] = "00:00:00",
            ["Security:Authenticators:1:UserNameClaim"] = "device",
            ["Security:Authenticators:1:FailurePolicy"] = "NotMine",
        }, out var none);

        Assert.Empty(none);
        var (secret, jwks) = (good.Authenticators[0].Jwt!, good.Authenticators[1].Jwt!);
        Assert.Equal((32, null, "https://issuer.test", null, TimeSpan.FromSeconds(30), "sub", "client_id", "groups"),
            (secret.Secret!.Length, secret.JwksUrl, secret.Issuer, secret.Audience, secret.ClockSkew, secret.UserNameClaim, secret.ClientIdClaim, secret.RolesClaim));
        Assert.Null(jwks.RolesClaim);
        Assert.Equal((null, new Uri("https://issuer.test/jwks.json"), TimeSpan.FromMinutes(1), "iothub", TimeSpan.Zero, "device", BackendFailurePolicy.NotMine),
            (jwks.Secret, jwks.JwksUrl, jwks.JwksRefresh, jwks.Audience, jwks.ClockSkew, jwks.UserNameClaim, good.Authenticators[1].Backend!.FailurePolicy));

        Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Jwt",
            ["Security:Authenticators:1:Type"] = "Jwt",
            ["Security:Authenticators:1:Secret"] = "short-secret-31-bytes-long-xxxx",
            ["Security:Authenticators:2:Type"] = "Jwt",
            ["Security:Authenticators:2:Secret"] = new string('s', 40),
            ["Security:Authenticators:2:JwksUrl"] = "https://issuer.test/jwks.json",
            ["Security:Authenticators:3:Type"] = "Jwt",
            ["Security:Authenticators:3:JwksUrl"] = "ftp://issuer.test/jwks.json",
            ["Security:Authenticators:3:ClockSkew"] = "00:11:00",
            ["Security:Authenticators:3:Url"] = "https://issuer.test/",
        }, out var errors);

        Assert.Equal(
        [
            "Security:Authenticators:0:Secret or JwksUrl: exactly one of the two must be set (an HMAC secret, or the URL of the issuer's RSA/ECDSA keys).",
            "Security:Authenticators:1:Secret is shorter than 32 bytes (HS256 needs a key as long as its hash: make one with `openssl rand -base64 32`).",
            "Security:Authenticators:2:Secret or JwksUrl: exactly one of the two must be set (an HMAC secret, or the URL of the issuer's RSA/ECDSA keys).",
            "Security:Authenticators:3:JwksUrl 'ftp://issuer.test/jwks.json' is not an absolute http:// or https:// URL without a user name or password.",
            "Security:Authenticators:3:Secret or JwksUrl: exactly one of the two must be set (an HMAC secret, or the URL of the issuer's RSA/ECDSA keys).",
            "Security:Authenticators:3:ClockSkew '00:11:00' is not a duration from 00:00:00 to 00:10:00.",
            "Security:Authenticators:3:Url is not a known setting (known: Type, Secret, JwksUrl, JwksRefresh, Issuer, Audience, ClockSkew, UserNameClaim, ClientIdClaim, RolesClaim, Timeout, FailurePolicy).",
        ], errors);
    }

    [Fact]
    public void Ldap_authenticators_are_read_and_every_bad_key_reported_without_quoting_the_bind_password()
    {
        var good = Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Ldap",
            ["Security:Authenticators:0:Url"] = "ldaps://ldap.example.org",
            ["Security:Authenticators:0:UserDnTemplate"] = "uid={username},ou=devices,dc=example,dc=org",
            ["Security:Authenticators:1:Type"] = "ldap",
            ["Security:Authenticators:1:Url"] = "ldap://127.0.0.1:3389",
            ["Security:Authenticators:1:StartTls"] = "true",
            ["Security:Authenticators:1:CaFile"] = "/etc/iothub/ldap-ca.pem",
            ["Security:Authenticators:1:BindDn"] = "cn=broker,dc=example,dc=org",
            ["Security:Authenticators:1:BindPassword"] = "hunter2",
            ["Security:Authenticators:1:BaseDn"] = "ou=devices,dc=example,dc=org",
            ["Security:Authenticators:1:GroupBaseDn"] = "ou=groups,dc=example,dc=org",
            ["Security:Authenticators:1:SuperuserGroup"] = "admins",
            ["Security:Authenticators:1:Connections"] = "8",
            ["Security:Authenticators:1:FailurePolicy"] = "NotMine",
        }, out var none);

        Assert.Empty(none);
        Assert.Equal(new LdapOptions(new Uri("ldaps://ldap.example.org"), false, false, null, "uid={username},ou=devices,dc=example,dc=org", null, null, null,
            LdapOptions.DefaultUserFilter, null, LdapOptions.DefaultGroupFilter, "cn", null, 4), good.Authenticators[0].Ldap);
        var search = good.Authenticators[1].Ldap!;
        Assert.Equal((true, "/etc/iothub/ldap-ca.pem", "cn=broker,dc=example,dc=org", "hunter2", "ou=devices,dc=example,dc=org", "admins", 8, "ldap://127.0.0.1:3389"),
            (search.StartTls, search.CaFile, search.BindDn, search.BindPassword, search.BaseDn, search.SuperuserGroup, search.Connections, search.Description));
        Assert.Equal(BackendFailurePolicy.NotMine, good.Authenticators[1].Backend!.FailurePolicy);
        Assert.DoesNotContain("hunter2", search.ToString(), StringComparison.Ordinal);

        Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Ldap",
            ["Security:Authenticators:1:Type"] = "Ldap",
            ["Security:Authenticators:1:Url"] = "ldap://broker:hunter2@ldap.example.org",
            ["Security:Authenticators:1:UserDnTemplate"] = "uid=device,dc=example,dc=org",
            ["Security:Authenticators:1:BaseDn"] = "dc=example,dc=org",
            ["Security:Authenticators:1:BindPassword"] = "hunter3",
            ["Security:Authenticators:2:Type"] = "Ldap",
            ["Security:Authenticators:2:Url"] = "ldap://ldap.example.org",
            ["Security:Authenticators:2:BaseDn"] = "dc=example,dc=org",
            ["Security:Authenticators:2:UserFilter"] = "(uid=admin)",
            ["Security:Authenticators:2:GroupFilter"] = "(member=admin)",
            ["Security:Authenticators:2:SuperuserGroup"] = "admins",
            ["Security:Authenticators:2:Connections"] = "0",
            ["Security:Authenticators:3:Type"] = "Ldap",
            ["Security:Authenticators:3:Url"] = "ldaps://ldap.example.org",
            ["Security:Authenticators:3:StartTls"] = "true",
            ["Security:Authenticators:3:UserDnTemplate"] = "uid={username},dc=example,dc=org",
            ["Security:Authenticators:3:Query"] = "(uid={username})",
        }, out var errors);

        Assert.Equal(
        [
            "Security:Authenticators:0:Url must be set.",
            "Security:Authenticators:0:UserDnTemplate or BaseDn: exactly one of the two must be set (bind as the user at a DN made from the user name, or search the user under a base DN).",
            "Security:Authenticators:1:Url is not an ldaps://host:port or ldap://host:port URL without a user name, password, DN or query (the value is not shown: it may hold a password).",
            "Security:Authenticators:1:UserDnTemplate or BaseDn: exactly one of the two must be set (bind as the user at a DN made from the user name, or search the user under a base DN).",
            "Security:Authenticators:1:UserDnTemplate does not hold {username}, e.g. uid={username},ou=devices,dc=example,dc=org.",
            "Security:Authenticators:1:BindPassword and BindDn go together: the service account's DN and password (neither: searches are anonymous).",
            "Security:Authenticators:2:Url is ldap:// without StartTls=true: the passwords would travel in clear. Use ldaps://, or StartTls=true, or accept it deliberately with AllowPlaintext=true.",
            "Security:Authenticators:2:UserFilter does not hold {username}, e.g. (&(objectClass=inetOrgPerson)(uid={username})).",
            "Security:Authenticators:2:GroupFilter does not hold {dn}, e.g. (&(objectClass=groupOfNames)(member={dn})).",
            "Security:Authenticators:2:SuperuserGroup needs GroupBaseDn: the groups are searched there.",
            "Security:Authenticators:2:Connections '0' is not a whole number from 1 to 64.",
            "Security:Authenticators:3:StartTls applies to ldap:// URLs only (ldaps:// is TLS from the start).",
            "Security:Authenticators:3:Query is not a known setting (known: Type, Url, StartTls, AllowPlaintext, CaFile, UserDnTemplate, BindDn, BindPassword, BaseDn, " +
            "UserFilter, GroupBaseDn, GroupFilter, GroupNameAttribute, SuperuserGroup, Connections, Timeout, FailurePolicy).",
        ], errors);
        Assert.DoesNotContain(errors, static e => e.Contains("hunter", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_ldap_CaFile_that_does_not_exist_stops_the_host()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Security:Authenticators:0:Type=Ldap", "--Security:Authenticators:0:Url=ldaps://127.0.0.1:9",
            "--Security:Authenticators:0:UserDnTemplate=uid={username},dc=example,dc=org", "--Security:Authenticators:0:CaFile=/nonexistent/ldap-ca.pem");

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains("Security:Authenticators:0:CaFile '/nonexistent/ldap-ca.pem' does not exist.", host.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DataDirectory), "nothing is created when the settings are bad");
    }

    /// <summary>The connection waits Mqtt:AuthenticationTimeout for the whole chain: NotMine needs a backend timeout below it.</summary>
    [Fact]
    public async Task A_NotMine_backend_whose_timeout_is_not_below_the_authentication_timeout_stops_the_host()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Security:Authenticators:0:Type=Webhook", "--Security:Authenticators:0:Url=http://127.0.0.1:9/auth",
            "--Security:Authenticators:0:FailurePolicy=NotMine", "--Mqtt:AuthenticationTimeout=00:00:03", "--Security:Authenticators:0:Timeout=00:00:03");

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains("Security:Authenticators:0:Timeout (00:00:03) is not shorter than Mqtt:AuthenticationTimeout (00:00:03, broker 'default')",
            host.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DataDirectory), "nothing is created when the settings are bad");
    }

    /// <summary>A webhook's CaFile is read at start: a missing file, or one without a PEM certificate, stops the host naming the key.</summary>
    [Fact]
    public async Task A_webhook_CaFile_that_holds_no_certificate_stops_the_host()
    {
        var notPem = Path.Combine(_workingDirectory.Path, "not-a-ca.pem");
        await File.WriteAllTextAsync(notPem, "not a certificate");
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Security:Authenticators:0:Type=Webhook", "--Security:Authenticators:0:Url=https://127.0.0.1:9/auth", $"--Security:Authenticators:0:CaFile={notPem}",
            "--Security:Authenticators:1:Type=Webhook", "--Security:Authenticators:1:Url=https://127.0.0.1:9/auth", "--Security:Authenticators:1:CaFile=missing.pem");

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains($"Security:Authenticators:0:CaFile '{notPem}' holds no PEM certificate.", host.Output, StringComparison.Ordinal);
        Assert.Contains("Security:Authenticators:1:CaFile '", host.Output, StringComparison.Ordinal);
        Assert.Contains("missing.pem' cannot be read", host.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DataDirectory), "nothing is created when the settings are bad");
    }

    [Theory]
    [InlineData("--Mqtt:Address=0.0.0.0")]
    [InlineData("--Mqtt:Listeners:lan:Url=tcp://0.0.0.0:0")]
    [InlineData("--Mqtt:Brokers:lab:Port=0", "--Mqtt:Brokers:lab:Address=::")]
    [InlineData("--Mqtt:Listeners:web:Url=ws://0.0.0.0:0/mqtt")]
    [InlineData("--Http:Address=0.0.0.0")] // the dashboard's port serves MQTT over WebSocket at Http:MqttPath
    public async Task A_listener_beyond_loopback_without_an_authenticator_stops_the_host_and_says_how_to_add_users(params string[] listener)
    {
        using var host = HostProcess.Start(_workingDirectory.Path, ["--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory, .. listener]);

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains("IoTHub cannot start:", host.Output, StringComparison.Ordinal);
        Assert.Contains("MQTT listeners are open beyond loopback", host.Output, StringComparison.Ordinal);
        Assert.Contains("mosquitto_passwd -c <file> <user>", host.Output, StringComparison.Ordinal);
        Assert.Contains("--Security:PasswordFile=<file>", host.Output, StringComparison.Ordinal);
        Assert.Contains("--Security:AllowAnonymous=true", host.Output, StringComparison.Ordinal);
        Assert.Contains("--Security:Authenticators:0:Type=Database", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DataDirectory), "nothing is created when the settings are bad");
    }

    /// <summary>
    /// A network listener that says itself whether anonymous clients may connect is not left open by accident: the host
    /// starts without users (here none may connect there), and a Unix socket counts as local like loopback.
    /// </summary>
    [Fact]
    public async Task A_listener_beyond_loopback_with_its_own_AllowAnonymous_and_a_unix_socket_start_without_users()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Mqtt:Listeners:lan:Url=tcp://0.0.0.0:0", "--Mqtt:Listeners:lan:AllowAnonymous=false",
            $"--Mqtt:Listeners:local:Url=unix://{_workingDirectory.Path}/iothub.sock");

        await host.WaitForMqttEndpointAsync();
        host.Terminate();
        Assert.Equal(0, await host.WaitForExitAsync());
    }

    // Issue 24: a misspelt section (here the security one) stops the start like a misspelt key, instead of starting a
    // broker without the setting; a plain unknown value on the command line too.
    [Fact]
    public async Task An_unknown_section_stops_the_host()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Securty:PasswordFile=passwords", "--Sekurity=on");

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains("Securty is not a known section (known: Http, Mqtt, Storage, Admin, Security, Cluster, Telemetry); check its spelling.", host.Output,
            StringComparison.Ordinal);
        Assert.Contains("Sekurity is not a known section", host.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DataDirectory), "nothing is created when the settings are bad");
    }

    [Fact]
    public async Task A_missing_password_file_stops_the_host()
    {
        var missing = Path.Combine(_workingDirectory.Path, "missing-passwords");
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Security:PasswordFile=missing-passwords"); // relative: taken from the content root (the working directory)

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains($"Security:PasswordFile '{missing}' does not exist. Create it with `mosquitto_passwd -c {missing} <user>`.", host.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Security:AccessAudit:MaxAge=7 days", "Security:AccessAudit:MaxAge '7 days' is not a positive duration")]
    [InlineData("--Security:AccessAudit:MaxAge=3651.00:00:00", "Security:AccessAudit:MaxAge '3651.00:00:00' is not a positive duration of at most 3650 days")]
    [InlineData("--Security:AccessAudit:MaxEntries=0", "Security:AccessAudit:MaxEntries '0'")]
    public async Task A_bad_access_audit_retention_stops_the_host_naming_the_key(string setting, string message)
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory, setting);

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains(message, host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AllowAnonymous_set_explicitly_opens_a_network_listener_with_a_warning()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Mqtt:Address=0.0.0.0", "--Security:AllowAnonymous=true");

        var warning = await host.WaitForLineAsync("Security:AllowAnonymous is true while MQTT listeners are open beyond loopback");
        Assert.Contains("broker 'default', listener 'default' (0.0.0.0:0)", warning, StringComparison.Ordinal);
        var endpoint = await host.WaitForMqttEndpointAsync();
        using (var client = ChildProcess.Start("mosquitto_pub", ["-h", "127.0.0.1", "-p", endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", "t", "-m", "anonymous"]))
        {
            await client.WaitForSuccessAsync();
        }

        host.Terminate();
        Assert.Equal(0, await host.WaitForExitAsync());
    }

    public void Dispose() => _workingDirectory.Dispose();

    private string DataDirectory => Path.Combine(_workingDirectory.Path, "data");

    internal static SecurityOptions Read(Dictionary<string, string?> values, out IReadOnlyList<string> errors)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var reader = new SectionReader(configuration.GetSection(SecurityOptions.SectionName));
        var options = new SecurityOptions();
        options.Read(reader);
        reader.RejectUnknownKeys();
        errors = reader.Errors;
        return options;
    }
}
