namespace IoTHub.Broker.Security.Authorization;

/// <summary>
/// One level of a pattern rule's filter that holds placeholders (<c>%u</c>, <c>%c</c>, <c>${cert_cn}</c>) among literal
/// text, e.g. <c>%u</c> or <c>dev-%c</c>. It is compared with a topic level without building the expanded string. A
/// placeholder the client has no value for (no user name, no certificate), or whose value holds <c>/</c>, <c>+</c> or
/// <c>#</c> (a user named <c>a/#</c> would otherwise widen <c>devices/%u</c>), never matches, as in Mosquitto.
/// </summary>
internal sealed class AclTemplate
{
    private const string UserToken = "%u";
    private const string ClientToken = "%c";
    private const string CertificateToken = "${cert_cn}";

    // Literal text and placeholders in order: a placeholder is a null literal with its kind.
    private readonly (string? Literal, Placeholder Kind)[] _parts;

    private AclTemplate((string?, Placeholder)[] parts, string text) => (_parts, Text) = (parts, text);

    private enum Placeholder
    {
        None,
        User,
        Client,
        Certificate,
    }

    public string Text { get; }

    /// <summary>The template of <paramref name="level"/>; null when it holds no placeholder.</summary>
    public static AclTemplate? Parse(string level)
    {
        List<(string?, Placeholder)>? parts = null;
        var literalStart = 0;
        for (var i = 0; i < level.Length; i++)
        {
            var kind = At(level, i, out var length);
            if (kind == Placeholder.None)
            {
                continue;
            }

            parts ??= [];
            if (i > literalStart)
            {
                parts.Add((level[literalStart..i], Placeholder.None));
            }

            parts.Add((null, kind));
            i += length - 1;
            literalStart = i + 1;
        }

        if (parts is null)
        {
            return null;
        }

        if (literalStart < level.Length)
        {
            parts.Add((level[literalStart..], Placeholder.None));
        }

        return new AclTemplate([.. parts], level);
    }

    public bool Matches(ReadOnlySpan<char> level, AclIdentity identity)
    {
        foreach (var (literal, kind) in _parts)
        {
            var text = literal ?? kind switch
            {
                Placeholder.User => identity.UserName,
                Placeholder.Client => identity.ClientId,
                _ => identity.CertificateCommonName,
            };

            if (text is null || (literal is null && text.AsSpan().IndexOfAny('/', '+', '#') >= 0) || !level.StartsWith(text, StringComparison.Ordinal))
            {
                return false;
            }

            level = level[text.Length..];
        }

        return level.IsEmpty;
    }

    private static Placeholder At(string level, int i, out int length)
    {
        var rest = level.AsSpan(i);
        (var kind, length) = rest.StartsWith(UserToken, StringComparison.Ordinal) ? (Placeholder.User, UserToken.Length)
            : rest.StartsWith(ClientToken, StringComparison.Ordinal) ? (Placeholder.Client, ClientToken.Length)
            : rest.StartsWith(CertificateToken, StringComparison.Ordinal) ? (Placeholder.Certificate, CertificateToken.Length)
            : (Placeholder.None, 0);
        return kind;
    }
}

/// <summary>Who a client is for the access rules: the values a pattern rule's placeholders stand for, and what its authenticator granted.</summary>
public sealed record AclIdentity(string? UserName, string ClientId, string? CertificateCommonName, ClientRights? Rights = null);
