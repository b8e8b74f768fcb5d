using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Backends;
using IoTHub.Broker.Security.Certificates;
using IoTHub.Web.Api;

namespace IoTHub.Web.Security.Webhook;

/// <summary>
/// Asks an HTTP service about each CONNECT the cache has not seen (docs/security.md#http-webhook): a POST of
/// <see cref="WebhookRequest"/> as JSON, answered with 200 and <see cref="WebhookAnswer"/> (the shape of EMQX's HTTP
/// authentication) or 204 (allow). Any other status, or a body that is not such an answer, is a failure of the backend,
/// which <see cref="BackendAuthenticator"/> answers per its failure policy. The HttpClient comes from
/// <see cref="IHttpClientFactory"/>: pooled connections, many requests at once.
/// </summary>
internal sealed class WebhookBackend(IHttpClientFactory clients, Uri url) : IAuthenticationBackend
{
    /// <summary>The named HttpClient: no timeout of its own (the authenticator's applies) and no request logging (a line per CONNECT).</summary>
    public const string HttpClientName = "IoTHub.AuthenticationWebhook";

    public string Method => "webhook";

    /// <summary>The URL without its query, which may hold a token.</summary>
    public string Description { get; } = url.GetLeftPart(UriPartial.Path);

    public async Task<AuthenticationAnswer> AskAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        // Serialized first, so that the request has a Content-Length: simple services (Python's http.server) need one.
        using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(WebhookRequest.Of(request), WebhookJson.Default.WebhookRequest))
        {
            Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } },
        };
        using var response = await clients.CreateClient(HttpClientName).PostAsync(url, content, cancellationToken).ConfigureAwait(false);
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
