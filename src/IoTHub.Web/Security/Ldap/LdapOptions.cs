using System.Text;

namespace IoTHub.Web.Security.Ldap;

/// <summary>The keys of a <c>Type=Ldap</c> authenticator (docs/security.md#ldap).</summary>
/// <param name="Url"><c>ldaps://host:port</c>, or <c>ldap://host:port</c> with <paramref name="StartTls"/> (or <paramref name="AllowPlaintext"/>).</param>
/// <param name="StartTls">Whether an <c>ldap://</c> connection is upgraded with StartTLS before anything is sent but the first search of the root entry.</param>
/// <param name="AllowPlaintext">Whether <c>ldap://</c> without StartTLS is allowed: passwords then travel in clear.</param>
/// <param name="CaFile">The PEM file of the authorities that sign the server's certificate; null: the system's.</param>
/// <param name="UserDnTemplate">Bind mode: the user's DN, <c>{username}</c> standing for the escaped user name; null in search mode.</param>
/// <param name="BindDn">Search mode: the service account's DN; null: searches anonymously.</param>
/// <param name="BindPassword">The service account's password: never logged, left out of <see cref="ToString"/>.</param>
/// <param name="BaseDn">Search mode: where users are searched; null in bind mode.</param>
/// <param name="UserFilter">Search mode: the filter that finds the user, <c>{username}</c> standing for the escaped user name.</param>
/// <param name="GroupBaseDn">Where the user's groups are searched; null: no groups, no roles.</param>
/// <param name="GroupFilter">The filter of the user's groups, <c>{dn}</c> standing for the user's escaped DN.</param>
/// <param name="GroupNameAttribute">The attribute of a group whose value is the role's name.</param>
/// <param name="SuperuserGroup">The role name (a group's <paramref name="GroupNameAttribute"/>) whose members are superusers; null: none.</param>
/// <param name="Connections">How many connections (each with its own worker thread) ask the server at once.</param>
internal sealed record LdapOptions(Uri Url, bool StartTls, bool AllowPlaintext, string? CaFile, string? UserDnTemplate, string? BindDn, string? BindPassword,
    string? BaseDn, string UserFilter, string? GroupBaseDn, string GroupFilter, string GroupNameAttribute, string? SuperuserGroup, int Connections)
{
    public const string UserNamePlaceholder = "{username}";
    public const string DnPlaceholder = "{dn}";
    public const string DefaultUserFilter = "(&(objectClass=inetOrgPerson)(uid={username}))";
    public const string DefaultGroupFilter = "(&(objectClass=groupOfNames)(member={dn}))";
    public const string DefaultGroupNameAttribute = "cn";
    public const int DefaultConnections = 4;

    /// <summary>The URL, for logs and alarms: it holds no credentials (refused at start).</summary>
    public string Description => Url.GetLeftPart(UriPartial.Authority);

    public override string ToString() =>
        $"{nameof(LdapOptions)} {{ {nameof(Url)} = {Description}, {nameof(StartTls)} = {StartTls}, {nameof(UserDnTemplate)} = {UserDnTemplate}, " +
        $"{nameof(BindDn)} = {BindDn}, {nameof(BaseDn)} = {BaseDn}, {nameof(UserFilter)} = {UserFilter}, {nameof(GroupBaseDn)} = {GroupBaseDn} }}";

    /// <summary>
    /// <paramref name="value"/> as an attribute value inside a search filter (RFC 4515 §3): <c>*</c>, <c>(</c>, <c>)</c>,
    /// <c>\</c> and NUL as <c>\2a</c>, <c>\28</c>, <c>\29</c>, <c>\5c</c> and <c>\00</c>, so that a user name such as
    /// <c>*)(uid=*</c> is only a name.
    /// </summary>
    public static string EscapeFilterValue(string value)
    {
        var escaped = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            _ = c switch
            {
                '*' => escaped.Append(@"\2a"),
                '(' => escaped.Append(@"\28"),
                ')' => escaped.Append(@"\29"),
                '\\' => escaped.Append(@"\5c"),
                '\0' => escaped.Append(@"\00"),
                _ => escaped.Append(c),
            };
        }

        return escaped.ToString();
    }

    /// <summary>
    /// <paramref name="value"/> as an attribute value inside a DN (RFC 4514 §2.4): <c>" + , ; &lt; &gt; \ =</c> with a
    /// backslash, NUL as <c>\00</c>, a leading space or <c>#</c> and a trailing space with a backslash, so that a user name
    /// cannot add a component (<c>x,ou=admins</c>) to the DN.
    /// </summary>
    public static string EscapeDnValue(string value)
    {
        var escaped = new StringBuilder(value.Length + 8);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                escaped.Append(@"\00");
                continue;
            }

            if (c is '"' or '+' or ',' or ';' or '<' or '>' or '\\' or '=' || (i == 0 && c is ' ' or '#') || (i == value.Length - 1 && c == ' '))
            {
                escaped.Append('\\');
            }

            escaped.Append(c);
        }

        return escaped.ToString();
    }
}
