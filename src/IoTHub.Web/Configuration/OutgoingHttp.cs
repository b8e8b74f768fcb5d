namespace IoTHub.Web.Configuration;

/// <summary>
/// Settings of the broker's own HTTP requests (a webhook authenticator's, the OTLP exporter's): the URL, and headers as a
/// sub-section of name = value whose values are never shown: they usually carry a credential (see <see cref="EffectiveSettings"/>).
/// </summary>
internal static class OutgoingHttp
{
    public const string HeadersKey = "Headers";

    public const string UrlProblem = "is not an absolute http:// or https:// URL without a user name or password.";

    /// <summary>Headers the broker writes itself, or that HTTP does not let a request set.</summary>
    public static readonly string[] ReservedHeaders = ["Host", "Content-Type", "Content-Length", "Transfer-Encoding", "Connection"];

    /// <summary>The headers of <see cref="HeadersKey"/>; every bad name or value is recorded, without the value.</summary>
    public static List<KeyValuePair<string, string>> ReadHeaders(SectionReader reader)
    {
        var headers = reader.Entries(HeadersKey);
        foreach (var (name, value) in headers)
        {
            if (name.Length == 0 || !name.All(IsTokenCharacter))
            {
                reader.Fail($"{HeadersKey}:{name}", "is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~).");
            }
            else if (ReservedHeaders.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                reader.Fail($"{HeadersKey}:{name}", $"cannot be set: the broker writes it (reserved: {string.Join(", ", ReservedHeaders)}).");
            }
            else if (value.Any(static c => char.IsControl(c) && c != '\t'))
            {
                reader.Fail($"{HeadersKey}:{name}", "holds a control character such as a line break (the value is not shown: it may be a secret).");
            }
        }

        return headers;
    }

    /// <summary>
    /// An absolute http:// or https:// URL without credentials in it: HttpClient does not send them, and the URL is
    /// logged (they belong in a header).
    /// </summary>
    public static bool TryParseUrl(string raw, out Uri? url)
    {
        url = Uri.TryCreate(raw, UriKind.Absolute, out var parsed) && (parsed.Scheme == Uri.UriSchemeHttp || parsed.Scheme == Uri.UriSchemeHttps)
            && parsed.UserInfo.Length == 0 ? parsed : null;
        return url is not null;
    }

    /// <summary>A character of an HTTP token (RFC 9110 §5.6.2), which a header name is.</summary>
    private static bool IsTokenCharacter(char c) => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);
}
