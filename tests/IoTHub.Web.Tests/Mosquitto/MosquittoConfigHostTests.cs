using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests.Mosquitto;

/// <summary>
/// One mosquitto.conf with a plain and a TLS listener, a certificate listener whose clients are named by their
/// certificates, a password file written by Debian's mosquitto_passwd and an ACL file: the same mosquitto_pub and
/// mosquitto_sub runs work against the real Mosquitto started with it, then against IoTHub started with it. Debian's
/// Mosquitto is built without WebSockets, so the WebSocket listener comes from the file's include_dir only for IoTHub.
/// </summary>
public sealed class MosquittoConfigHostTests : IDisposable
{
    private const string AlicePassword = "alice's secret";
    private const string BobPassword = "bob-secret";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_clients_that_work_against_Mosquitto_with_the_file_work_against_IoTHub_with_it()
    {
        using var certificates = new TestCertificates();
        var server = certificates.Server("broker");
        var device = certificates.Client("device-1");
        var passwords = Path.Combine(_temp.Path, "passwd");
        await RunAsync("/usr/bin/mosquitto_passwd", "-c", "-b", passwords, "alice", AlicePassword);
        await RunAsync("/usr/bin/mosquitto_passwd", "-b", passwords, "bob", BobPassword);
        var acl = Path.Combine(_temp.Path, "acl");
        await File.WriteAllTextAsync(acl, "user alice\ntopic readwrite sensors/#\n\nuser bob\ntopic read sensors/#\n\nuser device-1\ntopic write sensors/#\n");
        var included = Directory.CreateDirectory(Path.Combine(_temp.Path, "conf.d")).FullName;
        var (tcp, tls, identity, ws) = (FreePort.Next(), FreePort.Next(), FreePort.Next(), FreePort.Next());
        var conf = Path.Combine(_temp.Path, "mosquitto.conf");
        await File.WriteAllTextAsync(conf, $"""
            # Mosquitto runs as root in the test container: keep it so, to read the temp folder
            user root
            allow_anonymous false
            password_file {passwords}
            acl_file {acl}
            persistence true
            persistence_location {Path.Combine(_temp.Path, "mosquitto-data")}/

            listener {tcp} 127.0.0.1

            listener {tls} 127.0.0.1
            certfile {server.Certificate}
            keyfile {server.Key}
            tls_version tlsv1.2

            listener {identity} 127.0.0.1
            certfile {server.Certificate}
            keyfile {server.Key}
            cafile {certificates.Authority}
            require_certificate true
            use_identity_as_username true

            include_dir {included}
            """);
        Directory.CreateDirectory(Path.Combine(_temp.Path, "mosquitto-data"));
        var clients = new Clients(tcp, tls, identity, certificates.Authority, device);

        using (var mosquitto = Process.Start("/usr/sbin/mosquitto", ["-c", conf])!)
        {
            try
            {
                await WaitForPortAsync(identity);
                await clients.RunAsync();
            }
            finally
            {
                mosquitto.Kill();
                await mosquitto.WaitForExitAsync();
            }
        }

        await File.WriteAllTextAsync(Path.Combine(included, "websockets.conf"), $"listener {ws} 127.0.0.1\nprotocol websockets\n");
        using var host = new ImportingHost(conf);
        await clients.RunAsync();

        // The WebSocket listener: alice over ws:// receives what device-1 publishes over its certificate listener.
        await using var web = await WebSocketClientAsync(new Uri($"ws://127.0.0.1:{ws}/mqtt"));
        await web.SubscribeAsync("sensors/#");
        await clients.PublishWithCertificateAsync("sensors/ws", "over-websockets");
        var publish = await web.ExpectPublishAsync();
        Assert.Equal(("sensors/ws", "over-websockets"), (publish.Topic, publish.PayloadText));

        var effective = await (await host.AdminAsync()).GetFromJsonAsync<JsonElement>("/api/v1/config/effective");
        Assert.Equal(conf, effective.GetProperty("mosquittoConfig").GetString());
        var settings = effective.GetProperty("settings").EnumerateArray().ToDictionary(
            static s => s.GetProperty("key").GetString()!, static s => (s.GetProperty("value").GetString(), s.GetProperty("source").GetString()));
        var lines = await File.ReadAllLinesAsync(conf);
        string Line(string text) => $"{conf}:{Array.IndexOf(lines, text) + 1}";
        Assert.Equal(($"tls://127.0.0.1:{tls}", Line($"listener {tls} 127.0.0.1")), settings[$"Mqtt:Listeners:mosquitto-{tls}:Url"]);
        Assert.Equal(("Tls12,Tls13", Line("tls_version tlsv1.2")), settings[$"Mqtt:Listeners:mosquitto-{tls}:TlsProtocols"]);
        Assert.Equal(("CommonName", Line("use_identity_as_username true")), settings[$"Mqtt:Listeners:mosquitto-{identity}:CertificateIdentity"]);
        Assert.Equal(($"ws://127.0.0.1:{ws}/mqtt", $"{Path.Combine(included, "websockets.conf")}:1"), settings[$"Mqtt:Listeners:mosquitto-{ws}:Url"]);
        Assert.Equal(("false", Line("allow_anonymous false")), settings["Security:AllowAnonymous"]);
        Assert.Equal((passwords, Line($"password_file {passwords}")), settings["Security:PasswordFile"]);
        Assert.Equal(("Sqlite", Line("persistence true")), settings["Storage:Provider"]);

        // Explicit settings win over the file (the test host names its own data directory, passed as arguments); the rest shows its source.
        Assert.Equal((host.DataDirectory, "command line"), settings["Storage:DataDirectory"]);
        Assert.Equal(("127.0.0.1", "appsettings.json"), settings["Http:Address"]);
        Assert.Equal(("00:00:10", "default"), settings["Mqtt:ConnectTimeout"]);
        Assert.Equal(("(hidden)", "command line"), settings["Admin:SigningKey"]);
        var notTaken = Assert.Single(effective.GetProperty("notTaken").EnumerateArray());
        Assert.Equal(("user", 2), (notTaken.GetProperty("directive").GetString(), notTaken.GetProperty("line").GetInt32()));

        // File paths and the whole configuration are for admins: a viewer is refused, and so is a client without a token.
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await (await host.ViewerAsync()).GetAsync("/api/v1/config/effective")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await host.Client.GetAsync("/api/v1/config/effective")).StatusCode);
    }

    /// <summary>A directive that cannot be honoured, and a value IoTHub's own checks refuse, stop the start naming the file and line.</summary>
    [Fact]
    public async Task What_cannot_be_honoured_stops_the_start_naming_file_and_line()
    {
        var conf = Path.Combine(_temp.Path, "mosquitto.conf");
        var missing = Path.Combine(_temp.Path, "missing.pem");
        await File.WriteAllTextAsync(conf, $"listener 0 {Path.Combine(_temp.Path, "mqtt.sock")}\nauth_plugin /usr/lib/mosquitto-auth-plugin/auth-plugin.so\n" +
            $"listener 8883 127.0.0.1\ncertfile {missing}\nkeyfile {missing}\n");

        using var host = HostProcess.Start(_temp.Path, "--http-port", "0", "--data-dir", Path.Combine(_temp.Path, "data"), "--mosquitto-config", conf);

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains($"  - {conf}:2: auth_plugin loads an authentication plugin", host.Output, StringComparison.Ordinal);
        Assert.Contains($"  - Mqtt:Listeners:mosquitto-8883:Certificate '{missing}'", host.Output, StringComparison.Ordinal);
        Assert.Contains($"(set by {conf}:4)", host.Output, StringComparison.Ordinal);
    }

    private static async Task RunAsync(string file, params string[] arguments)
    {
        using var process = ChildProcess.Start(file, arguments);
        Assert.True(await process.WaitForExitAsync() == 0, $"{file} {string.Join(' ', arguments)}: {string.Join('\n', process.Lines)}");
    }

    private static async Task WaitForPortAsync(int port)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>MQTT over WebSocket, logged in as alice.</summary>
    private static async Task<MqttTestClient> WebSocketClientAsync(Uri uri)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("mqtt");
        await socket.ConnectAsync(uri, CancellationToken.None).WaitAsync(Timeout);
        var stream = WebSocketStream.Create(socket, WebSocketMessageType.Binary, ownsWebSocket: true);
        var client = new MqttTestClient(PipeWriter.Create(stream), PipeReader.Create(stream), transport: stream);
        await client.ConnectAcceptedAsync(new ConnectPacket { ClientId = "alice-ws", UserName = "alice", Password = Encoding.UTF8.GetBytes(AlicePassword) });
        return client;
    }

    /// <summary>The mosquitto_pub and mosquitto_sub runs: what the users may do, and what they may not.</summary>
    private sealed class Clients(int tcp, int tls, int identity, string authority, PemFiles device)
    {
        public async Task RunAsync()
        {
            // alice reads sensors/# over TLS; bob may only read there, so his message is dropped; device-1 is named by its certificate.
            using var subscriber = ChildProcess.Start("/usr/bin/stdbuf", ["-oL", "/usr/bin/mosquitto_sub", "-d", "-h", "127.0.0.1", "-p", $"{tls}",
                "--cafile", authority, "-u", "alice", "-P", AlicePassword, "-i", "alice-sub", "-t", "sensors/#", "-v", "-C", "2", "-W", "20"]);
            await subscriber.WaitForLineAsync(static line => line.Contains("received SUBACK", StringComparison.Ordinal));
            await PublishAsync(accepted: true, tcp, "-u", "bob", "-P", BobPassword, "-t", "sensors/t", "-m", "from-bob");
            await PublishAsync(accepted: false, tcp, "-t", "sensors/t", "-m", "anonymous");
            await PublishAsync(accepted: false, tcp, "-u", "alice", "-P", "wrong", "-t", "sensors/t", "-m", "wrong-password");
            await PublishAsync(accepted: true, tcp, "-u", "alice", "-P", AlicePassword, "-t", "sensors/t", "-m", "from-alice");
            await PublishWithCertificateAsync("sensors/cert", "from-device");

            Assert.Equal(0, await subscriber.WaitForExitAsync());
            Assert.Equal(["sensors/t from-alice", "sensors/cert from-device"], subscriber.Lines.Where(static l => l.StartsWith("sensors/", StringComparison.Ordinal)));
        }

        public Task PublishWithCertificateAsync(string topic, string payload) =>
            PublishAsync(accepted: true, identity, "--cafile", authority, "--cert", device.Certificate, "--key", device.Key, "-t", topic, "-m", payload);

        /// <summary>mosquitto_pub at QoS 0 (a publish the ACL drops gets no answer to wait for), accepted (exit code 0) or refused at CONNECT.</summary>
        private static async Task PublishAsync(bool accepted, int port, params string[] arguments)
        {
            using var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", $"{port}", .. arguments]);
            Assert.True(await publisher.WaitForExitAsync() == 0 == accepted, $"mosquitto_pub {string.Join(' ', arguments)}: {string.Join('\n', publisher.Lines)}");
        }
    }

    /// <summary>The host started with Mqtt:MosquittoConfig, as --mosquitto-config sets it.</summary>
    private sealed class ImportingHost(string conf)
        : AdminApiHost(new Dictionary<string, string> { ["Mqtt:MosquittoConfig"] = conf, ["Admin:SigningKey"] = Convert.ToBase64String(new byte[32]) });
}
