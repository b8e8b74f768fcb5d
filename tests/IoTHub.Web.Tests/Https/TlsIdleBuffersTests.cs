using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IoTHub.Web.Transports.Tls;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTHub.Web.Tests.Https;

/// <summary>
/// OpenSSL told to release an idle TLS connection's record buffers (issue 19, <see cref="TlsIdleBuffers"/>): on a real
/// SslStream pair over loopback, and on a tls:// listener of the host after Kestrel's handshake. What it saves is measured
/// by the load tool (docs/benchmarks.md), not here.
/// </summary>
public sealed class TlsIdleBuffersTests(TlsListenerHost host) : IClassFixture<TlsListenerHost>
{
    [Fact]
    public async Task The_mode_is_set_on_a_handshaken_stream_which_then_carries_data_both_ways()
    {
        using var certificate = SelfSigned();
        var (server, client) = await HandshakeAsync(certificate);
        await using (server)
        await using (client)
        {
            // The premise: .NET leaves the buffers held. Should a .NET set the mode itself, this says the work is done.
            var before = TlsIdleBuffers.ModeOf(server);
            Assert.NotNull(before);
            Assert.Equal(0, before.Value & TlsIdleBuffers.ReleaseBuffersMode);

            var idle = new TlsIdleBuffers(NullLogger<TlsIdleBuffers>.Instance);
            idle.Release(server);
            Assert.Equal(1, idle.Released);
            Assert.Equal(TlsIdleBuffers.ReleaseBuffersMode, TlsIdleBuffers.ModeOf(server)!.Value & TlsIdleBuffers.ReleaseBuffersMode);

            // Records larger than one buffer, in both directions, with buffers taken and given back between them.
            var sent = RandomNumberGenerator.GetBytes(200_000);
            for (var round = 0; round < 3; round++)
            {
                var received = new byte[sent.Length];
                await Task.WhenAll(client.WriteAsync(sent).AsTask(), server.ReadExactlyAsync(received).AsTask());
                Assert.Equal(sent, received);
                await Task.WhenAll(server.WriteAsync(sent).AsTask(), client.ReadExactlyAsync(received).AsTask());
                Assert.Equal(sent, received);
            }
        }
    }

    [Fact]
    public async Task A_tls_listener_releases_the_buffers_of_its_connections()
    {
        var idle = host.Services.GetRequiredService<TlsIdleBuffers>();
        var before = idle.Released;
        var secure = host.MqttListeners.Single(static l => l.Name == "secure").Endpoint;

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(secure);
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), false, (_, served, _, _) => host.Certificates.Issued(served));
        await tls.AuthenticateAsClientAsync("localhost");

        // A 3.1.1 CONNECT with an empty client id: its CONNACK shows the connection reached the broker, past the middleware.
        await tls.WriteAsync(new byte[] { 0x10, 0x0C, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00 });
        var connAck = new byte[4];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await tls.ReadExactlyAsync(connAck, timeout.Token);
        Assert.Equal(0x20, connAck[0]);

        Assert.Equal(before + 1, idle.Released);
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pfx), null);
    }

    private static async Task<(SslStream Server, SslStream Client)> HandshakeAsync(X509Certificate2 certificate)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var connecting = new TcpClient();
        await connecting.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var accepted = await listener.AcceptTcpClientAsync();
        var server = new SslStream(accepted.GetStream(), false);
        var client = new SslStream(connecting.GetStream(), false, (_, served, _, _) => served?.GetCertHashString() == certificate.Thumbprint);
        await Task.WhenAll(
            server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }),
            client.AuthenticateAsClientAsync("localhost"));
        return (server, client);
    }
}
