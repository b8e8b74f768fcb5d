using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace IoTHub.LoadTest;

/// <summary>
/// The connect-webhook scenarios' authentication service: an HTTP server on loopback in the tool's own process that
/// answers IoTHub's webhook (Security:Authenticators:0:Type=Webhook, the body docs/security.md describes) with allow for
/// the one user and password the clients send, deny otherwise, as a small service of an operator's would. Its requests
/// cost the tool's CPU, not the broker's, and are counted so that the notes say how many decisions it made.
/// </summary>
internal sealed class WebhookUsers : IAuthenticationBackend
{
    private const string User = "bench-hook";
    private const string Password = "bench-hook-password";
    private static readonly byte[] Allow = """{"result":"allow"}"""u8.ToArray();
    private static readonly byte[] Deny = """{"result":"deny"}"""u8.ToArray();

    private readonly HttpListener _listener = new();
    private readonly Task _serving;
    private long _requests;

    private WebhookUsers(int port)
    {
        Settings = new Dictionary<string, string> { ["Type"] = "Webhook", ["Url"] = $"http://127.0.0.1:{port}/mqtt/auth" };
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/mqtt/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public IReadOnlyDictionary<string, string> Settings { get; }

    public Credentials Credentials { get; } = new(User, Encoding.UTF8.GetBytes(Password), PasswordFile: null);

    public Task<string?> CountAsync() => Task.FromResult<string?>($"{Interlocked.Read(ref _requests):N0} webhook requests in all (warm-up included)");

    public static WebhookUsers Start()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return new WebhookUsers(port);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _serving.ConfigureAwait(false);
        _listener.Close();
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = AnswerAsync(context);
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var body = await JsonDocument.ParseAsync(context.Request.InputStream).ConfigureAwait(false);
        var root = body.RootElement;
        var allowed = root.GetProperty("userName").GetString() == User && root.GetProperty("password").GetString() == Password;
        var answer = allowed ? Allow : Deny;
        Interlocked.Increment(ref _requests);
        context.Response.ContentType = "application/json";
        context.Response.ContentLength64 = answer.Length;
        await context.Response.OutputStream.WriteAsync(answer).ConfigureAwait(false);
        context.Response.Close();
    }
}
