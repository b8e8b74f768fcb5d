using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using IoTHub.Testing;
using MQTTnet.Protocol;

namespace IoTHub.Web.Tests;

/// <summary>
/// Mutual TLS between the nodes (Cluster:Tls, docs/clustering.md#node-to-node-traffic): two nodes with certificates of one CA,
/// made in the test with .NET's CertificateRequest, and a third whose certificate another CA signed.
/// </summary>
public sealed partial class ClusterTests
{
    [Fact]
    public async Task TlsNodesWithCertificatesOfOneCaFormAClusterOverTls13AndAMessageCrosses()
    {
        using var certificates = new TestCertificates();
        var nodes = await StartTlsClusterAsync(certificates);
        foreach (var host in _hosts)
        {
            await host.WaitForLineAsync("node-to-node traffic is mutual TLS (TLS 1.3 only) with the certificate CN=node-");
        }

        var ids = await IdsAsync(nodes);
        await using var onB = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "tls-sub-b");
        await onB.SubscribeAsync("plant/secret");
        await using var onA = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "tls-pub-a");
        await UntilFiltersAsync(nodes[0].Api, ids[1], 1);

        // What a third party on the network reads: the payload in clear on the MQTT ports (plain MQTT, the control that the
        // capture works), and nowhere in the bytes between the nodes, which did carry the message. One capture, in the order
        // the segments crossed: once B's delivery to its subscriber is in it, the hop from A to B before it is too.
        var marker = "plaintext-marker-" + Guid.NewGuid().ToString("N");
        await using (var capture = LoopbackCapture.Start([.. _nodePorts, nodes[0].Mqtt.Port, nodes[1].Mqtt.Port]))
        {
            await onA.PublishAsync("plant/secret", marker, MqttQualityOfServiceLevel.AtLeastOnce);
            await onB.UntilAsync(marker);
            await Poll.UntilAsync(() => capture.Saw(marker, nodes[1].Mqtt.Port), DeathBound);
            Assert.True(capture.Saw(marker, nodes[0].Mqtt.Port));
            Assert.True(capture.Bytes(_nodePorts) > marker.Length, $"only {capture.Bytes(_nodePorts)} bytes seen between the nodes");
            Assert.False(capture.Saw(marker, _nodePorts), "the message crossed between the nodes in clear");
            Assert.False(capture.Saw("plant/secret", _nodePorts), "the topic crossed between the nodes in clear");
            output.WriteLine($"captured {capture.Bytes(_nodePorts)} bytes between the nodes while the message crossed");
        }

        Assert.Equal([marker], onB.Payloads);

        // The node-to-node port speaks TLS 1.3, shows a certificate of the cluster's CA, and refuses TLS 1.2.
        var member = certificates.Node("member");
        await using (var tls = await HandshakeAsync(_nodePorts[0], member, certificates, SslProtocols.Tls12 | SslProtocols.Tls13))
        {
            Assert.Equal(SslProtocols.Tls13, tls.SslProtocol);
            output.WriteLine($"node-to-node port: {tls.SslProtocol}, {tls.NegotiatedCipherSuite}, certificate {tls.RemoteCertificate?.Subject}");
        }

        await Assert.ThrowsAsync<AuthenticationException>(() => HandshakeAsync(_nodePorts[1], member, certificates, SslProtocols.Tls12));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TlsNodeWhoseCertificateAnotherCaSignedOrWithTlsOffDoesNotJoinAndTheHandshakeFailureIsLogged(bool tlsOn)
    {
        using var certificates = new TestCertificates();
        var nodes = await StartTlsClusterAsync(certificates);
        var outsider = certificates.Node("outsider", trusted: false);
        var port = FreePort.Next();
        var started = Stopwatch.StartNew();
        var stranger = StartNode(2, port, tlsOn
            ? [.. NodeCertificate(outsider), $"--Cluster:Tls:CaPath={certificates.StrangerAuthority}"]
            : ["--Cluster:Tls:Enabled=false"]);
        _hosts.Add(stranger);

        // Each side refuses the other's certificate in the handshake, and says so with the peer's address. With TLS off the
        // node has no handshake of its own to report: the active nodes see its plain connections fail theirs.
        if (tlsOn)
        {
            await stranger.WaitForLineAsync("node-to-node TLS handshake to 127.0.0.1:");
            await stranger.WaitForLineAsync("a node's certificate refused: CN=node-");
            await _hosts[0].WaitForLineAsync("a node's certificate refused: CN=outsider, issued by CN=Stranger CA");
        }
        else
        {
            await stranger.WaitForLineAsync("node-to-node traffic is plain TCP");
        }

        await _hosts[0].WaitForLineAsync("node-to-node TLS handshake from 127.0.0.1:");

        // It wrote itself into the membership table as joining, but no active node ever takes it in: they probe it, fail the
        // handshake, vote it dead, and Orleans stops the node that finds itself declared dead (exit 134), as a frozen node that thaws.
        // Its own start is in that time (7 to 10 s here, 27 s on a machine loaded by other suites): the bound is the host's start timeout.
        await Poll.UntilAsync(async () =>
        {
            foreach (var (api, _) in nodes)
            {
                Assert.DoesNotContain(await ClusterAsync(api), n => n.Port == port && n.Status == "active");
            }

            return stranger.HasExited;
        }, HostProcess.Timeout, "the node that does not belong did not stop");
        var code = await stranger.WaitForExitAsync();
        output.WriteLine($"the node ({(tlsOn ? "another CA" : "TLS off")}) exited with {code}, {started.ElapsedMilliseconds} ms after its start");
        Assert.NotEqual(0, code);
        foreach (var (api, _) in nodes)
        {
            var view = await ClusterAsync(api);
            Assert.Equal(2, view.Count(n => n.Status == "active"));
            Assert.Equal("dead", Assert.Single(view, n => n.Port == port).Status);
        }
    }

    /// <summary>Two nodes, each with its own certificate of <paramref name="certificates"/>' CA, which both trust.</summary>
    private Task<List<(HttpClient Api, IPEndPoint Mqtt)>> StartTlsClusterAsync(TestCertificates certificates) =>
        StartClusterAsync(sharedStore: false, count: 2,
            everyNodeArguments: ["--Cluster:Tls:Enabled=true", $"--Cluster:Tls:CaPath={certificates.Authority}", .. NodeCertificate(certificates.Node("node-a"))],
            lastNodeArguments: NodeCertificate(certificates.Node("node-b")));

    private static string[] NodeCertificate(PemFiles files) => [$"--Cluster:Tls:CertificatePath={files.Certificate}", $"--Cluster:Tls:KeyPath={files.Key}"];

    /// <summary>A TLS handshake with a node-to-node port, as a node with <paramref name="client"/>'s certificate would make it.</summary>
    private static async Task<SslStream> HandshakeAsync(int port, PemFiles client, TestCertificates certificates, SslProtocols protocols)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "node",
                ClientCertificates = [X509Certificate2.CreateFromPemFile(client.Certificate, client.Key)],
                EnabledSslProtocols = protocols,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificates.Issued(certificate),
            });
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }
}
