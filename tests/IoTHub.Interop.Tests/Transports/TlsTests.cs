using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using IoTHub.Broker.Connections;
using IoTHub.Testing;
using IoTHub.Web.Transports.Sockets;
using MQTTnet;

namespace IoTHub.Interop.Tests.Transports;

/// <summary>
/// tls:// listeners with real clients: mosquitto_pub/sub with --cafile (and --cert/--key for mutual TLS), the MQTTnet
/// client, openssl s_client for the protocol versions, .NET's SslStream for the certificate served (SNI, reload), and
/// raw sockets for handshakes that never finish. Certificates come from <see cref="TestCertificates"/>.
/// </summary>
public sealed class TlsTests(TransportHost transports) : IClassFixture<TransportHost>
{
    private const string Pub = "/usr/bin/mosquitto_pub";
    private const string Sub = "/usr/bin/mosquitto_sub";
    private const string OpenSsl = "/usr/bin/openssl";

    private InteropHost Host => transports.Host;

    [Fact]
    public async Task Mosquitto_clients_exchange_messages_over_tls_trusting_the_authority_file()
    {
        using var subscriber = ChildProcess.Start("/usr/bin/stdbuf", ["-oL", Sub, "-d", .. Tls("tls"), "-i", "tls-sub", "-t", "tls/#", "-q", "1",
            "-C", "1", "-W", "30", "-F", "%t %p"]);
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);

        await PublishAsync(Tls("tls"), "tls/a", "over tls");

        await subscriber.WaitForSuccessAsync();
        Assert.Contains("tls/a over tls", subscriber.Lines);
    }

    /// <summary>Required refuses clients without a certificate; Optional accepts them; both refuse one the authority did not sign.</summary>
    [Theory]
    [InlineData("mtls", false)]
    [InlineData("optional", true)]
    public async Task Client_certificates_must_chain_to_the_authority(string listener, bool withoutOne)
    {
        var device = transports.Certificates.Client($"device-{listener}");
        var stranger = transports.Certificates.Client($"stranger-{listener}", trusted: false);

        Assert.Equal(withoutOne, await PublishExitCodeAsync([.. Tls(listener)]) == 0);
        Assert.NotEqual(0, await PublishExitCodeAsync([.. Tls(listener), "--cert", stranger.Certificate, "--key", stranger.Key]));
        Assert.Equal(0, await PublishExitCodeAsync([.. Tls(listener), "--cert", device.Certificate, "--key", device.Key]));
    }

    [Fact]
    public async Task The_client_certificate_reaches_the_engine_with_the_connection()
    {
        var device = transports.Certificates.Client("device-3");
        using var certificate = X509Certificate2.CreateFromPemFile(device.Certificate, device.Key);

        await using var withCertificate = await MqttNetClient.ConnectAsync(Host, Protocol.V500, "mqttnet-mtls", transport: builder => Tls(builder, "mtls", certificate));
        await using var without = await MqttNetClient.ConnectAsync(Host, Protocol.V311, "mqttnet-optional", transport: builder => Tls(builder, "optional", null));

        var info = Host.Broker.FindSession("mqttnet-mtls")!.Connection!.Info;
        Assert.Equal((TransportKind.Tls, $"tls://{transports["mtls"]}", "CN=device-3"), (info.Transport, info.Listener, info.ClientCertificate?.Subject));
        var plain = Host.Broker.FindSession("mqttnet-optional")!.Connection!.Info;
        Assert.Equal((TransportKind.Tls, null), (plain.Transport, plain.ClientCertificate));
    }

    [Fact]
    public async Task Tls13_is_negotiated_and_tls11_is_refused()
    {
        using var tls13 = ChildProcess.Start(OpenSsl, ["s_client", "-connect", $"127.0.0.1:{transports.Port("tls")}", "-tls1_3", "-CAfile", transports.Certificates.Authority,
            "-servername", "localhost"], input: "");
        Assert.Equal(0, await tls13.WaitForExitAsync());
        Assert.Contains(tls13.Lines, line => line.Contains("New, TLSv1.3", StringComparison.Ordinal));
        Assert.Contains(tls13.Lines, line => line.Contains("Verify return code: 0 (ok)", StringComparison.Ordinal));

        // SECLEVEL=0 lets OpenSSL 3 offer TLS 1.1 at all: the refusal must come from the server (alert 70).
        using var tls11 = ChildProcess.Start(OpenSsl, ["s_client", "-connect", $"127.0.0.1:{transports.Port("tls")}", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], input: "");
        Assert.NotEqual(0, await tls11.WaitForExitAsync());
        Assert.Contains("alert protocol version", tls11.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TlsProtocols_narrows_a_listener_to_tls13()
    {
        using var tls12 = ChildProcess.Start(OpenSsl, ["s_client", "-connect", $"127.0.0.1:{transports.Port("tls13")}", "-tls1_2"], input: "");
        Assert.NotEqual(0, await tls12.WaitForExitAsync());
        Assert.Contains("alert protocol version", tls12.Describe(), StringComparison.Ordinal);

        await using var client = await MqttNetClient.ConnectAsync(Host, Protocol.V500, "mqttnet-tls13", transport: builder => Tls(builder, "tls13", null));
        Assert.True(client.Client.IsConnected);
    }

    [Fact]
    public async Task Sni_chooses_the_certificate_of_the_host_name_and_the_first_one_without()
    {
        Assert.Equal(Thumbprint(transports.Other), await ServedCertificateAsync(transports["sni"], "other.test"));
        Assert.Equal(Thumbprint(transports.Server), await ServedCertificateAsync(transports["sni"], "localhost"));
        Assert.Equal(Thumbprint(transports.Server), await ServedCertificateAsync(transports["sni"], null));
    }

    [Fact]
    public async Task A_replaced_certificate_is_served_to_new_handshakes_while_connected_clients_stay()
    {
        var before = Thumbprint(transports.Reload);
        Assert.Equal(before, await ServedCertificateAsync(transports["reload"], null));
        await using var subscriber = await MqttNetClient.ConnectAsync(Host, Protocol.V500, "reload-sub", transport: builder => Tls(builder, "reload", null));
        await subscriber.SubscribeAsync("reload/#", 1);

        // As certbot renews: new files in place of the old ones, the certificate first.
        var renewed = transports.Certificates.Server("reload-2");
        File.Copy(renewed.Certificate, transports.Reload.Certificate, overwrite: true);
        File.Copy(renewed.Key, transports.Reload.Key, overwrite: true);
        var after = Thumbprint(renewed);
        Assert.NotEqual(before, after);
        await Poll.UntilAsync(async () => await ServedCertificateAsync(transports["reload"], null) == after, TimeSpan.FromSeconds(15),
            "the renewed certificate was not served within 15 s");

        await using var publisher = await MqttNetClient.ConnectAsync(Host, Protocol.V500, "reload-pub", transport: builder => Tls(builder, "reload", null));
        await publisher.PublishAsync("reload/after", "still here", 1);
        Assert.Equal([new("reload/after", "still here", 1, false)], await subscriber.WaitForMessagesAsync(1));
        Assert.True(subscriber.Client.IsConnected);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_handshake_that_never_finishes_is_closed_within_the_connect_timeout(bool halfClientHello)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(transports["tls"]);
        var connected = Stopwatch.StartNew();
        if (halfClientHello)
        {
            // A TLS record header announcing a 512-byte handshake record, then the first bytes of a ClientHello.
            await socket.SendAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03 }, SocketFlags.None);
        }

        using var timeout = new CancellationTokenSource(TransportHost.ConnectTimeout * 4);
        var buffer = new byte[16];
        int read;
        try
        {
            read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        }
        catch (SocketException)
        {
            read = 0; // reset by the server: closed all the same
        }

        Assert.Equal(0, read);

        // A silent client reaches the broker only at the end of the listener's deferred accept (TCP_DEFER_ACCEPT).
        var deferred = halfClientHello ? TimeSpan.Zero : TimeSpan.FromSeconds(MqttSocketTransport.DeferAcceptSeconds);
        Assert.InRange(connected.Elapsed, TransportHost.ConnectTimeout * 0.5, TransportHost.ConnectTimeout + deferred + TimeSpan.FromSeconds(2));
    }

    /// <summary>The connection options of mosquitto_pub/sub for a listener, trusting the test authority.</summary>
    private List<string> Tls(string listener) => ["-h", "127.0.0.1", "-p", transports.Port(listener), "--cafile", transports.Certificates.Authority];

    private MqttClientOptionsBuilder Tls(MqttClientOptionsBuilder builder, string listener, X509Certificate2? certificate)
    {
        var authority = X509CertificateLoader.LoadCertificateFromFile(transports.Certificates.Authority);
        return builder.WithTcpServer("127.0.0.1", transports[listener].Port).WithTlsOptions(tls =>
        {
            tls.UseTls().WithTargetHost("localhost").WithTrustChain([authority]);
            if (certificate is not null)
            {
                tls.WithClientCertificates([certificate]);
            }
        });
    }

    private static async Task PublishAsync(List<string> connection, string topic, string message)
    {
        using var publisher = ChildProcess.Start(Pub, [.. connection, "-t", topic, "-m", message, "-q", "1"]);
        await publisher.WaitForSuccessAsync();
    }

    private static async Task<int> PublishExitCodeAsync(List<string> connection)
    {
        using var publisher = ChildProcess.Start(Pub, [.. connection, "-t", "mtls/check", "-m", "x", "-q", "1"]);
        return await publisher.WaitForExitAsync();
    }

    private static string Thumbprint(PemFiles files) => X509Certificate2.CreateFromPem(File.ReadAllText(files.Certificate)).Thumbprint;

    /// <summary>
    /// The thumbprint of the certificate the listener presents in a handshake asking for <paramref name="serverName"/>
    /// (no SNI when null), checked against the test authority (host names aside: "other.test" is only a name).
    /// </summary>
    private async Task<string> ServedCertificateAsync(IPEndPoint endpoint, string? serverName)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(endpoint);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName ?? endpoint.Address.ToString(), // an IP address is never sent as SNI
            RemoteCertificateValidationCallback = (_, certificate, _, _) => transports.Certificates.Issued(certificate),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        });
        return tls.RemoteCertificate!.GetCertHashString();
    }
}
