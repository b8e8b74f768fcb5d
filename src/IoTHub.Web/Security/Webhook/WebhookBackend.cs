using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Backends;
using IoTHub.Broker.Security.Certificates;

namespace IoTHub.Web.Security.Webhook;

/// <summary>
/// Asks an HTTP service about each CONNECT the cache has not seen (docs/security.md#http-webhook): a POST of
/// <see cref="WebhookRequest"/> as JSON, with the configured headers, answered with 200 and <see cref="WebhookAnswer"/>
/// (the shape of EMQX's HTTP authentication) or 204 (allow). Any other status, or a body that is not such an answer, is a
/// failure of the backend, which <see cref="BackendAuthenticator"/> answers per its failure policy. Each webhook has its
/// own long-lived <see cref="SocketsHttpHandler"/> (pooled connections, many requests at once, renewed every few minutes
/// for DNS changes): its own CA trust must not serve another webhook's requests through a shared pool, and
/// <see cref="IHttpClientFactory"/> names its clients before the settings are read. No redirect is followed (a 3xx is a
/// failure, never a POST of the password elsewhere) and nothing is logged per request (the URL's query may hold a token).
/// </summary>
internal sealed class WebhookBackend : IAuthenticationBackend, IDisposable
{
    private readonly Uri _url;
    private readonly IReadOnlyList<KeyValuePair<string, string>> _headers;
    private readonly HttpClient _client;

    /// <param name="url">Where the questions are posted.</param>
    /// <param name="authorities">The CA certificates the service's https certificate must chain to, in place of the system's; null: the system's.</param>
    /// <param name="headers">Sent with every request; checked at start (HTTP header names, none the broker writes).</param>
    public WebhookBackend(Uri url, X509Certificate2Collection? authorities, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        (_url, _headers) = (url, headers);
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(2) };
        if (authorities is not null)
        {
            // The chain is still built and the host name still checked, against these roots only; a private CA publishes no revocation list.
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(authorities);
            handler.SslOptions.CertificateChainPolicy = policy;
        }

        // The authenticator's Timeout bounds each request.
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        Description = url.GetLeftPart(UriPartial.Path);
    }

    public string Method => "webhook";

    /// <summary>The URL without its query, which may hold a token.</summary>
    public string Description { get; }

    public async Task<AuthenticationAnswer> AskAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        // Serialized first, so that the request has a Content-Length: simple services (Python's http.server) need one.
        using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(WebhookRequest.Of(request), WebhookJson.Default.WebhookRequest))
        {
            Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } },
        };
        using var question = new HttpRequestMessage(HttpMethod.Post, _url) { Content = content };
        foreach (var (name, value) in _headers)
        {
            question.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await _client.SendAsync(question, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return AuthenticationResult.Allow;
        }

        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new AuthenticationBackendException($"answered {(int)response.StatusCode} {response.ReasonPhrase} (only 200 with a result, or 204, are answers)");
        }

        WebhookAnswer? answer;
        try
        {
            answer = await response.Content.ReadFromJsonAsync(WebhookJson.Default.WebhookAnswer, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw new AuthenticationBackendException("answered 200 with a body that is not the answer's JSON: " + e.Message);
        }

        return answer?.Result switch
        {
            "allow" => Allowed(answer, request.UserName),
            "deny" => AuthenticationResult.Deny,
            "ignore" => AuthenticationResult.NotMine,
            var other => throw new AuthenticationBackendException(
                $"answered 200 with result {(other is null ? "missing" : $"'{other}'")} (allow, deny or ignore expected)"),
        };
    }

    public void Dispose() => _client.Dispose();

    /// <summary>An allow, with the superuser flag and access rules that came with it (none: no rights to carry).</summary>
    private static AuthenticationAnswer Allowed(WebhookAnswer answer, string? userName)
    {
        var rules = answer.Acl is { Count: > 0 } acl ? EmqxAcl.Read(acl, userName, "the webhook's acl") : [];
        return answer.IsSuperuser == true || rules.Count > 0
            ? new AuthenticationAnswer(AuthenticationResult.Allow, new ClientRights([], answer.IsSuperuser == true) { Rules = rules })
            : AuthenticationResult.Allow;
    }
}

/// <summary>What the webhook is sent about a CONNECT.</summary>
/// <param name="ClientId">The client id (the one the broker assigned when the client sent none).</param>
/// <param name="UserName">The CONNECT's user name; null without one.</param>
/// <param name="Password">The CONNECT's password: its text when its bytes are UTF-8, else their base64; null without one.</param>
/// <param name="PasswordEncoding"><c>utf8</c> or <c>base64</c>, how <see cref="Password"/> is written; null without a password.</param>
/// <param name="PeerAddress">The client's IP address (an IPv4 client of a dual-stack listener as IPv4); null on a Unix socket.</param>
/// <param name="Listener">The listener's URL, e.g. <c>tcp://0.0.0.0:1883</c>.</param>
/// <param name="Protocol"><c>3.1</c>, <c>3.1.1</c> or <c>5.0</c>.</param>
/// <param name="CertificateCommonName">The common name of the client's TLS certificate; null without one.</param>
internal sealed record WebhookRequest(string ClientId, string? UserName, string? Password, string? PasswordEncoding, string? PeerAddress, string Listener,
    string? Protocol, string? CertificateCommonName)
{
    public static WebhookRequest Of(ConnectRequest request)
    {
        var (password, encoding) = request.Password switch
        {
            null => (null, null),
            var bytes when Utf8.IsValid(bytes) => (Encoding.UTF8.GetString(bytes), "utf8"),
            var bytes => (Convert.ToBase64String(bytes), "base64"),
        };
        return new WebhookRequest(request.ClientId, request.UserName, password, encoding, request.PeerAddress?.ToString(), request.Connection.Listener,
            ProtocolVersions.Name(request.ProtocolVersion), CertificateIdentities.Read(request.Connection.ClientCertificate, CertificateIdentity.CommonName));
    }
}

/// <summary>The webhook's answer to a 200.</summary>
/// <param name="Result"><c>allow</c>, <c>deny</c> or <c>ignore</c> (the next authenticator decides).</param>
/// <param name="IsSuperuser">EMQX's superuser flag (a value that is not a boolean is a bad answer): true allows the client everything.</param>
/// <param name="Acl">EMQX's access rules of the client (<see cref="EmqxAcl"/>; a value that is not an array is a bad answer).</param>
internal sealed record WebhookAnswer(
    string? Result,
    [property: JsonPropertyName("is_superuser")] bool? IsSuperuser,
    IReadOnlyList<JsonElement>? Acl);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(WebhookRequest))]
[JsonSerializable(typeof(WebhookAnswer))]
internal sealed partial class WebhookJson : JsonSerializerContext;
