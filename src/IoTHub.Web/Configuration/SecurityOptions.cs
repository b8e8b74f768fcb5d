using System.Data.Common;
using System.Globalization;
using System.Text;
using IoTHub.Broker.Security.PasswordFile;
using IoTHub.Broker.Security.Audit;
using IoTHub.Broker.Security.Backends;
using IoTHub.Broker.Security.Bans;
using IoTHub.Web.Security.Ldap;
using IoTHub.Web.Security.Sql;
using MySqlConnector;
using Npgsql;

namespace IoTHub.Web.Configuration;

/// <summary>The kinds of authenticator the chain can hold (docs/security.md).</summary>
internal enum AuthenticatorType
{
    PasswordFile,

    /// <summary>The built-in users of the broker's store (mqtt_users), managed through the API and dashboard.</summary>
    Database,

    /// <summary>An HTTP service asked with a POST per CONNECT (EMQX's HTTP authentication shape).</summary>
    Webhook,

    /// <summary>A query of the operator's against their own database (PostgreSQL, MySQL, MariaDB), and the password hash it returns.</summary>
    Sql,

    /// <summary>The password is a JSON Web Token, checked with an HMAC secret or the keys of a JWKS URL.</summary>
    Jwt,

    /// <summary>An LDAP directory: a bind as the user (its DN from a template or a search), and its groups as roles.</summary>
    Ldap,
}

/// <summary>One entry of "Security:Authenticators", in the order the chain asks them.</summary>
/// <param name="Key">The setting it came from, for messages; of a backend, its section (<c>Security:Authenticators:0</c>), which names it in logs, metrics and alarms.</param>
/// <param name="Type">What kind it is.</param>
/// <param name="Path">The file of a password file; empty for the others.</param>
/// <param name="Backend">Of an authenticator that asks a backend (<see cref="AuthenticatorType.Webhook"/>, <see cref="AuthenticatorType.Sql"/>, <see cref="AuthenticatorType.Jwt"/>, <see cref="AuthenticatorType.Ldap"/>): its timeout and failure policy.</param>
/// <param name="Webhook">The endpoint of a <see cref="AuthenticatorType.Webhook"/>, its trust and headers.</param>
/// <param name="Sql">The database, query and hash of a <see cref="AuthenticatorType.Sql"/>.</param>
/// <param name="Jwt">The keys of a <see cref="AuthenticatorType.Jwt"/>.</param>
/// <param name="Ldap">The server, DNs and filters of a <see cref="AuthenticatorType.Ldap"/>.</param>
internal sealed record AuthenticatorOptions(string Key, AuthenticatorType Type, string Path, BackendOptions? Backend = null, WebhookOptions? Webhook = null,
    SqlOptions? Sql = null, JwtOptions? Jwt = null, LdapOptions? Ldap = null);

/// <summary>The keys of a <see cref="AuthenticatorType.Webhook"/> authenticator (docs/security.md#http-webhook).</summary>
/// <param name="Url">Where the questions are posted.</param>
/// <param name="CaFile">A PEM file of the authorities the service's https certificate must chain to, in place of the system's; null: the system's.</param>
/// <param name="Headers">Headers sent with every question (e.g. Authorization); their values are never logged.</param>
internal sealed record WebhookOptions(Uri Url, string? CaFile, IReadOnlyList<KeyValuePair<string, string>> Headers);

/// <summary>The keys of a <see cref="AuthenticatorType.Jwt"/> authenticator (docs/security.md#jwt).</summary>
/// <param name="Secret">The HMAC secret's UTF-8 bytes (at least 32); null with <paramref name="JwksUrl"/>.</param>
/// <param name="JwksUrl">Where the RSA and ECDSA keys are fetched; null with <paramref name="Secret"/>.</param>
/// <param name="JwksRefresh">How old fetched keys may get before they are fetched again in the background.</param>
/// <param name="Issuer">The <c>iss</c> a token must have; null: not checked.</param>
/// <param name="Audience">The <c>aud</c> a token must have; null: not checked.</param>
/// <param name="ClockSkew">How far the broker's clock and the issuer's may differ, for <c>exp</c> and <c>nbf</c>.</param>
/// <param name="UserNameClaim">The claim that must equal the MQTT user name.</param>
/// <param name="ClientIdClaim">A claim that must equal the client id; null: none.</param>
/// <param name="RolesClaim">A claim whose string, or array of strings, names the client's roles; null: none.</param>
internal sealed record JwtOptions(byte[]? Secret, Uri? JwksUrl, TimeSpan JwksRefresh, string? Issuer, string? Audience, TimeSpan ClockSkew, string UserNameClaim,
    string? ClientIdClaim, string? RolesClaim)
{
    public const int MinimumSecretBytes = 32;
    public static readonly TimeSpan DefaultJwksRefresh = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan DefaultClockSkew = TimeSpan.FromSeconds(30);
    public const string DefaultUserNameClaim = "sub";
}

/// <summary>The keys every backend authenticator has: how long a question may take, and what a failure does.</summary>
internal sealed record BackendOptions(TimeSpan Timeout, BackendFailurePolicy FailurePolicy);

/// <summary>What is decided when no access rule speaks about a topic (docs/security.md#access-rules).</summary>
internal enum AclDefault
{
    Allow,
    Deny,
}

/// <summary>What a refused PUBLISH or SUBSCRIBE does beyond its refusal.</summary>
internal enum DenyAction
{
    /// <summary>The refusal alone: SUBACK 0x87/0x80, PUBACK/PUBREC 0x87 (3.1.1: dropped); the connection stays.</summary>
    Ignore,

    /// <summary>The connection is closed (5.0: DISCONNECT 0x87).</summary>
    Disconnect,
}

/// <summary>The reason code of a refused SUBSCRIBE filter for MQTT 5.0 clients (3.1.1 has only 0x80).</summary>
internal enum SubscribeRefusalCode
{
    /// <summary>0x87 Not authorized: says why (MQTT 5.0 §3.9.3).</summary>
    NotAuthorized,

    /// <summary>0x80 Unspecified error: for 5.0 clients that know only 3.1.1's failure code (the Eclipse Paho test client).</summary>
    UnspecifiedError,
}

/// <summary>"Security:AccessAudit": which access decisions are recorded, and how many at most (docs/security.md#audit-of-access-decisions).</summary>
internal sealed class AccessAuditOptions
{
    /// <summary>Whether allowed PUBLISHes and SUBSCRIBEs are recorded too; refusals always are.</summary>
    public bool RecordAllowed { get; set; }

    /// <summary>The most entries recorded per second; the rest are counted and summarised. 0 records nothing.</summary>
    public int MaxPerSecond { get; set; } = 1_000;

    /// <summary>The longest <see cref="MaxAge"/>: ten years (the oldest time kept must stay a date).</summary>
    public static readonly TimeSpan LongestMaxAge = TimeSpan.FromDays(3650);

    /// <summary>Entries older than this are deleted (about once a minute, and at start).</summary>
    public TimeSpan MaxAge { get; set; } = AccessAuditRetention.Default.MaxAge;

    /// <summary>At most this many entries are kept, the newest.</summary>
    public long MaxEntries { get; set; } = AccessAuditRetention.Default.MaxEntries;

    public AccessAuditRetention Retention => new(MaxAge, MaxEntries);
}

/// <summary>Section "Security": how MQTT clients authenticate, and what they may publish and subscribe to.</summary>
internal sealed class SecurityOptions
{
    public const string SectionName = "Security";

    /// <summary>
    /// Whether clients without a user name are accepted; null (not set): only while no authenticator is configured,
    /// and then only while every MQTT listener is on loopback (checked at start).
    /// </summary>
    public bool? AllowAnonymous { get; set; }

    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// PBKDF2-SHA512 rounds of the password hashes made for database users (new users and changed passwords; a hash keeps
    /// the count it was made with). Every login the cache has not seen pays them once.
    /// </summary>
    public int PasswordHashIterations { get; set; } = PasswordHash.DefaultIterations;

    /// <summary>"Security:Bans": brute-force protection.</summary>
    public BanOptions Bans { get; } = new();

    /// <summary>A Mosquitto acl_file; null: none.</summary>
    public string? AclFile { get; set; }

    /// <summary>Null (not set): deny when an acl_file is configured, else allow (and, while no rule is stored, nothing is checked).</summary>
    public AclDefault? AclDefault { get; set; }

    public DenyAction DenyAction { get; set; }

    public SubscribeRefusalCode SubscribeRefusalCode { get; set; }

    /// <summary>"Security:AccessAudit": the audit of access decisions.</summary>
    public AccessAuditOptions AccessAudit { get; } = new();

    /// <summary>"Security:Authenticators:{n}", or the one "Security:PasswordFile" stands for.</summary>
    public List<AuthenticatorOptions> Authenticators { get; } = [];

    public void Read(SectionReader reader)
    {
        AllowAnonymous = reader.OptionalFlag(nameof(AllowAnonymous));
        CacheDuration = reader.Duration(nameof(CacheDuration), CacheDuration);
        PasswordHashIterations = (int)reader.Number(nameof(PasswordHashIterations), PasswordHashIterations, 1_000, 10_000_000);
        var aclFile = reader.NonEmptyText(nameof(AclFile), string.Empty);
        AclFile = aclFile.Length > 0 ? aclFile : null;
        AclDefault = reader.Read(nameof(AclDefault), AclDefault, static (string raw, out AclDefault? value) =>
        {
            value = Enum.TryParse(raw, ignoreCase: true, out AclDefault parsed) && Enum.IsDefined(parsed) ? parsed : null;
            return value is not null;
        }, "is not allow or deny.");
        DenyAction = reader.Choice(nameof(DenyAction), DenyAction);
        SubscribeRefusalCode = reader.Choice(nameof(SubscribeRefusalCode), SubscribeRefusalCode);
        ReadBans(reader.Section(nameof(Bans)));
        ReadAccessAudit(reader.Section(nameof(AccessAudit)));
        var listed = reader.Children(nameof(Authenticators));
        foreach (SectionReader child in listed)
        {
            child.Require(nameof(AuthenticatorOptions.Type));
            var type = child.Read(nameof(AuthenticatorOptions.Type), (AuthenticatorType?)null, TryParseType,
                $"is not an available authenticator type (available: {string.Join(", ", Enum.GetNames<AuthenticatorType>())}).");
            var key = $"{SectionName}:{nameof(Authenticators)}:{child.Name}";
            if (type == AuthenticatorType.Database)
            {
                // The store is the broker's: a Database entry has no other key, and one is enough.
                child.RejectUnknownKeys();
                if (Authenticators.Any(static a => a.Type == AuthenticatorType.Database))
                {
                    child.Fail(nameof(AuthenticatorOptions.Type), "Database is listed more than once.");
                }

                Authenticators.Add(new AuthenticatorOptions($"{key}:{nameof(AuthenticatorOptions.Type)}", AuthenticatorType.Database, string.Empty));
                continue;
            }

            if (type is AuthenticatorType.Webhook or AuthenticatorType.Sql or AuthenticatorType.Jwt or AuthenticatorType.Ldap)
            {
                // The backend's own keys, then those every backend has; null when one of its own is missing or bad (recorded).
                var read = type switch
                {
                    AuthenticatorType.Webhook => ReadWebhook(child) is { } webhook ? new AuthenticatorOptions(key, AuthenticatorType.Webhook, string.Empty, Webhook: webhook) : null,
                    AuthenticatorType.Sql => ReadSql(child) is { } sql ? new AuthenticatorOptions(key, AuthenticatorType.Sql, string.Empty, Sql: sql) : null,
                    AuthenticatorType.Jwt => ReadJwt(child) is { } jwt ? new AuthenticatorOptions(key, AuthenticatorType.Jwt, string.Empty, Jwt: jwt) : null,
                    _ => ReadLdap(child) is { } ldap ? new AuthenticatorOptions(key, AuthenticatorType.Ldap, string.Empty, Ldap: ldap) : null,
                };
                var backend = ReadBackend(child);
                child.RejectUnknownKeys();
                if (read is not null)
                {
                    Authenticators.Add(read with { Backend = backend });
                }

                continue;
            }

            child.Require(nameof(AuthenticatorOptions.Path));
            var path = child.NonEmptyText(nameof(AuthenticatorOptions.Path), string.Empty);
            child.RejectUnknownKeys();
            if (type is { } known && path.Length > 0)
            {
                Authenticators.Add(new AuthenticatorOptions($"{key}:{nameof(AuthenticatorOptions.Path)}", known, path));
            }
        }

        const string Shortcut = nameof(AuthenticatorType.PasswordFile);
        var passwordFile = reader.NonEmptyText(Shortcut, string.Empty);
        if (passwordFile.Length > 0 && listed.Any())
        {
            reader.Fail(Shortcut, $"is a shortcut for one authenticator and cannot be combined with {SectionName}:{nameof(Authenticators)}; list the file there.");
        }
        else if (passwordFile.Length > 0)
        {
            Authenticators.Add(new AuthenticatorOptions($"{SectionName}:{Shortcut}", AuthenticatorType.PasswordFile, passwordFile));
        }
    }

    /// <summary>The keys of every backend authenticator: Timeout (default 5 s) and FailurePolicy (default Deny: fail closed).</summary>
    private static BackendOptions ReadBackend(SectionReader reader) =>
        new(reader.Duration(nameof(BackendOptions.Timeout), BackendAuthenticator.DefaultTimeout),
            reader.Choice(nameof(BackendOptions.FailurePolicy), BackendFailurePolicy.Deny));

    /// <summary>The keys of a Webhook authenticator: Url, CaFile (https only; the file is checked with the others at start), Headers; null when one is missing or bad (recorded).</summary>
    private static WebhookOptions? ReadWebhook(SectionReader reader)
    {
        int failures = reader.Errors.Count;
        reader.Require(nameof(WebhookOptions.Url));
        var url = reader.Read(nameof(WebhookOptions.Url), (Uri?)null, OutgoingHttp.TryParseUrl, OutgoingHttp.UrlProblem);
        var caFile = reader.NonEmptyText(nameof(WebhookOptions.CaFile), string.Empty);
        if (caFile.Length > 0 && url is { Scheme: not "https" })
        {
            reader.Fail(nameof(WebhookOptions.CaFile), $"applies to an https:// {nameof(WebhookOptions.Url)} only.");
        }

        var headers = OutgoingHttp.ReadHeaders(reader);
        return url is not null && reader.Errors.Count == failures ? new WebhookOptions(url, caFile.Length > 0 ? caFile : null, headers) : null;
    }

    /// <summary>The keys of a Sql authenticator (docs/security.md#sql-query); null when one is missing or bad (recorded).</summary>
    private static SqlOptions? ReadSql(SectionReader reader)
    {
        int failures = reader.Errors.Count;
        reader.Require(nameof(SqlOptions.Provider));
        var provider = reader.Choice(nameof(SqlOptions.Provider), SqlProvider.PostgreSql);

        // The connection string holds a password: a bad one is reported without its value.
        reader.Require(nameof(SqlOptions.ConnectionString));
        var connectionString = reader.Text(nameof(SqlOptions.ConnectionString), string.Empty);
        if (connectionString.Length > 0 && !IsConnectionString(provider, connectionString))
        {
            reader.Fail(nameof(SqlOptions.ConnectionString), (provider == SqlProvider.MySql
                ? "is not a MySQL connection string of MySqlConnector's keywords, such as Server=127.0.0.1;Port=3306;Database=iot;User ID=broker;Password=..."
                : "is not a PostgreSQL connection string of Npgsql's keywords, such as Host=127.0.0.1;Port=5432;Database=iot;Username=broker;Password=...") +
                " (the value is not shown: it may hold a password).");
        }

        reader.Require(nameof(SqlOptions.Query));
        var query = reader.NonEmptyText(nameof(SqlOptions.Query), string.Empty);
        if (query.Length > 0)
        {
            var used = SqlOptions.ParametersOf(query);
            if (!used.Contains(SqlOptions.UserNameParameter))
            {
                reader.Fail(nameof(SqlOptions.Query), $"does not use @{SqlOptions.UserNameParameter}: it must look the client's user name up.");
            }

            foreach (var unknown in used.Where(static p => !SqlOptions.Parameters.Contains(p)))
            {
                reader.Fail(nameof(SqlOptions.Query), $"uses @{unknown}, which is not a parameter (available: {string.Join(", ", SqlOptions.Parameters.Select(static p => "@" + p))}).");
            }
        }

        reader.Require(nameof(SqlOptions.PasswordHash));
        var hash = reader.Choice(nameof(SqlOptions.PasswordHash), SqlPasswordHash.Plain);
        var position = reader.Read(nameof(SqlOptions.SaltPosition), (SaltPosition?)null, static (string raw, out SaltPosition? value) =>
        {
            value = Enum.TryParse(raw, ignoreCase: true, out SaltPosition parsed) && Enum.IsDefined(parsed) ? parsed : null;
            return value is not null;
        }, $"is not one of {string.Join(", ", Enum.GetNames<SaltPosition>())}.");
        if (position is not null && hash != SqlPasswordHash.Sha256)
        {
            reader.Fail(nameof(SqlOptions.SaltPosition), $"applies to PasswordHash {nameof(SqlPasswordHash.Sha256)} only.");
        }

        var iterations = reader.Read(nameof(SqlOptions.Iterations), (int?)null, static (string raw, out int? value) =>
        {
            value = int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed is >= 1 and <= 10_000_000 ? parsed : null;
            return value is not null;
        }, "is not a whole number from 1 to 10000000.");
        if (iterations is not null && hash is not (SqlPasswordHash.Pbkdf2Sha256 or SqlPasswordHash.Pbkdf2Sha512))
        {
            reader.Fail(nameof(SqlOptions.Iterations), $"applies to PasswordHash {nameof(SqlPasswordHash.Pbkdf2Sha256)} and {nameof(SqlPasswordHash.Pbkdf2Sha512)} only.");
        }

        return reader.Errors.Count == failures
            ? new SqlOptions(provider, connectionString, query, hash, position ?? SaltPosition.Prefix, iterations)
            : null;
    }

    private static bool IsConnectionString(SqlProvider provider, string raw)
    {
        try
        {
            _ = provider == SqlProvider.MySql ? new MySqlConnectionStringBuilder(raw) : (DbConnectionStringBuilder)new NpgsqlConnectionStringBuilder(raw);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The keys of a Jwt authenticator: exactly one of Secret (at least 32 bytes) and JwksUrl; null when they are wrong.</summary>
    private static JwtOptions? ReadJwt(SectionReader reader)
    {
        // Read as text: a bad value's message must not quote the secret.
        var secretText = reader.Text(nameof(JwtOptions.Secret), string.Empty);
        var secret = secretText.Length > 0 ? Encoding.UTF8.GetBytes(secretText) : null;
        if (secret is { Length: < JwtOptions.MinimumSecretBytes })
        {
            reader.Fail(nameof(JwtOptions.Secret), $"is shorter than {JwtOptions.MinimumSecretBytes} bytes (HS256 needs a key as long as its hash: make one with `openssl rand -base64 32`).");
            secret = null;
        }

        var jwksUrl = reader.Read(nameof(JwtOptions.JwksUrl), (Uri?)null, OutgoingHttp.TryParseUrl, OutgoingHttp.UrlProblem);
        if ((secretText.Length > 0) == (jwksUrl is not null))
        {
            reader.Fail(nameof(JwtOptions.Secret), $"or {nameof(JwtOptions.JwksUrl)}: exactly one of the two must be set (an HMAC secret, or the URL of the issuer's RSA/ECDSA keys).");
        }

        var refresh = reader.Duration(nameof(JwtOptions.JwksRefresh), JwtOptions.DefaultJwksRefresh);
        var issuer = reader.NonEmptyText(nameof(JwtOptions.Issuer), string.Empty);
        var audience = reader.NonEmptyText(nameof(JwtOptions.Audience), string.Empty);
        var skew = reader.Read(nameof(JwtOptions.ClockSkew), JwtOptions.DefaultClockSkew, static (string raw, out TimeSpan value) =>
            TimeSpan.TryParse(raw, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero && value <= TimeSpan.FromMinutes(10),
            "is not a duration from 00:00:00 to 00:10:00.");
        var userNameClaim = reader.NonEmptyText(nameof(JwtOptions.UserNameClaim), JwtOptions.DefaultUserNameClaim);
        var clientIdClaim = reader.NonEmptyText(nameof(JwtOptions.ClientIdClaim), string.Empty);
        var rolesClaim = reader.NonEmptyText(nameof(JwtOptions.RolesClaim), string.Empty);
        return (secret is null) == (jwksUrl is null)
            ? null
            : new JwtOptions(secret, jwksUrl, refresh, issuer.Length > 0 ? issuer : null, audience.Length > 0 ? audience : null, skew, userNameClaim,
                clientIdClaim.Length > 0 ? clientIdClaim : null, rolesClaim.Length > 0 ? rolesClaim : null);
    }

    /// <summary>
    /// The keys of an Ldap authenticator (docs/security.md#ldap): the server and its TLS, then bind mode (UserDnTemplate) or
    /// search mode (BaseDn, UserFilter, a service account), then the groups; null when one is missing or bad (recorded).
    /// </summary>
    private static LdapOptions? ReadLdap(SectionReader reader)
    {
        int failures = reader.Errors.Count;
        reader.Require(nameof(LdapOptions.Url));
        // Read as text: a bad value's message must not quote a password written into it.
        var rawUrl = reader.Text(nameof(LdapOptions.Url), string.Empty);
        var url = Uri.TryCreate(rawUrl, UriKind.Absolute, out var parsed) && parsed.Scheme is "ldap" or "ldaps" && parsed.UserInfo.Length == 0
            && parsed.AbsolutePath == "/" && parsed.Query.Length == 0 && parsed.Host.Length > 0 ? parsed : null;
        if (url is null && rawUrl.Length > 0)
        {
            reader.Fail(nameof(LdapOptions.Url), "is not an ldaps://host:port or ldap://host:port URL without a user name, password, DN or query (the value is not shown: it may hold a password).");
        }

        var startTls = reader.Flag(nameof(LdapOptions.StartTls), false);
        var plaintext = reader.Flag(nameof(LdapOptions.AllowPlaintext), false);
        if (url?.Scheme == "ldaps" && startTls)
        {
            reader.Fail(nameof(LdapOptions.StartTls), "applies to ldap:// URLs only (ldaps:// is TLS from the start).");
        }
        else if (url?.Scheme == "ldap" && !startTls && !plaintext)
        {
            reader.Fail(nameof(LdapOptions.Url), "is ldap:// without StartTls=true: the passwords would travel in clear. Use ldaps://, or StartTls=true, " +
                "or accept it deliberately with AllowPlaintext=true.");
        }

        var caFile = reader.NonEmptyText(nameof(LdapOptions.CaFile), string.Empty);
        if (caFile.Length > 0 && OperatingSystem.IsWindows())
        {
            reader.Fail(nameof(LdapOptions.CaFile), "is not available on Windows (its LDAP client trusts the machine's certificate store only): add the authority there.");
        }

        var template = reader.NonEmptyText(nameof(LdapOptions.UserDnTemplate), string.Empty);
        var bindDn = reader.NonEmptyText(nameof(LdapOptions.BindDn), string.Empty);

        // Read as text: a bad value's message must not quote the password.
        var bindPassword = reader.Text(nameof(LdapOptions.BindPassword), string.Empty);
        var baseDn = reader.NonEmptyText(nameof(LdapOptions.BaseDn), string.Empty);
        var userFilter = reader.NonEmptyText(nameof(LdapOptions.UserFilter), LdapOptions.DefaultUserFilter);
        if ((template.Length > 0) == (baseDn.Length > 0))
        {
            reader.Fail(nameof(LdapOptions.UserDnTemplate), $"or {nameof(LdapOptions.BaseDn)}: exactly one of the two must be set (bind as the user at a DN " +
                "made from the user name, or search the user under a base DN).");
        }

        if (template.Length > 0 && !template.Contains(LdapOptions.UserNamePlaceholder, StringComparison.Ordinal))
        {
            reader.Fail(nameof(LdapOptions.UserDnTemplate), $"does not hold {LdapOptions.UserNamePlaceholder}, e.g. uid={LdapOptions.UserNamePlaceholder},ou=devices,dc=example,dc=org.");
        }

        if (!userFilter.Contains(LdapOptions.UserNamePlaceholder, StringComparison.Ordinal))
        {
            reader.Fail(nameof(LdapOptions.UserFilter), $"does not hold {LdapOptions.UserNamePlaceholder}, e.g. {LdapOptions.DefaultUserFilter}.");
        }

        if ((bindDn.Length > 0) != (bindPassword.Length > 0))
        {
            reader.Fail(nameof(LdapOptions.BindPassword), $"and {nameof(LdapOptions.BindDn)} go together: the service account's DN and password (neither: searches are anonymous).");
        }

        var groupBase = reader.NonEmptyText(nameof(LdapOptions.GroupBaseDn), string.Empty);
        var groupFilter = reader.NonEmptyText(nameof(LdapOptions.GroupFilter), LdapOptions.DefaultGroupFilter);
        if (!groupFilter.Contains(LdapOptions.DnPlaceholder, StringComparison.Ordinal))
        {
            reader.Fail(nameof(LdapOptions.GroupFilter), $"does not hold {LdapOptions.DnPlaceholder}, e.g. {LdapOptions.DefaultGroupFilter}.");
        }

        var groupName = reader.NonEmptyText(nameof(LdapOptions.GroupNameAttribute), LdapOptions.DefaultGroupNameAttribute);
        var superuserGroup = reader.NonEmptyText(nameof(LdapOptions.SuperuserGroup), string.Empty);
        if (superuserGroup.Length > 0 && groupBase.Length == 0)
        {
            reader.Fail(nameof(LdapOptions.SuperuserGroup), $"needs {nameof(LdapOptions.GroupBaseDn)}: the groups are searched there.");
        }

        var connections = (int)reader.Number(nameof(LdapOptions.Connections), LdapOptions.DefaultConnections, 1, 64);
        static string? Optional(string text) => text.Length > 0 ? text : null;
        return reader.Errors.Count == failures && url is not null
            ? new LdapOptions(url, startTls, plaintext, Optional(caFile), Optional(template), Optional(bindDn), Optional(bindPassword), Optional(baseDn), userFilter,
                Optional(groupBase), groupFilter, groupName, Optional(superuserGroup), connections)
            : null;
    }

    private void ReadBans(SectionReader reader)
    {
        Bans.Enabled = reader.Flag(nameof(Bans.Enabled), Bans.Enabled);
        Bans.MaxFailures = (int)reader.Number(nameof(Bans.MaxFailures), Bans.MaxFailures, 1, 1_000_000);
        Bans.Window = reader.Duration(nameof(Bans.Window), Bans.Window);
        Bans.Duration = reader.Duration(nameof(Bans.Duration), Bans.Duration);
        Bans.Capacity = (int)reader.Number(nameof(Bans.Capacity), Bans.Capacity, 100, 10_000_000);
        reader.RejectUnknownKeys();
    }

    private void ReadAccessAudit(SectionReader reader)
    {
        AccessAudit.RecordAllowed = reader.Flag(nameof(AccessAudit.RecordAllowed), AccessAudit.RecordAllowed);
        AccessAudit.MaxPerSecond = (int)reader.Number(nameof(AccessAudit.MaxPerSecond), AccessAudit.MaxPerSecond, 0, 1_000_000);
        AccessAudit.MaxAge = reader.Read(nameof(AccessAudit.MaxAge), AccessAudit.MaxAge, static (string raw, out TimeSpan value) =>
            TimeSpan.TryParse(raw, CultureInfo.InvariantCulture, out value) && value > TimeSpan.Zero && value <= AccessAuditOptions.LongestMaxAge,
            "is not a positive duration of at most 3650 days such as 7.00:00:00 (days) or 12:00:00 (hh:mm:ss).");
        AccessAudit.MaxEntries = reader.Number(nameof(AccessAudit.MaxEntries), AccessAudit.MaxEntries, 1_000, 1_000_000_000);
        reader.RejectUnknownKeys();
    }

    private static bool TryParseType(string raw, out AuthenticatorType? type)
    {
        type = Enum.TryParse(raw, ignoreCase: true, out AuthenticatorType value) && Enum.IsDefined(value) ? value : null;
        return type is not null;
    }
}
