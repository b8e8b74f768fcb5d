using System.Net.Sockets;
using IoTHub.Broker.Connections;
using IoTHub.Testing;
using MQTTnet;

namespace IoTHub.Interop.Tests.Transports;

/// <summary>
/// unix:// listeners with real clients: mosquitto_pub/sub --unix and the MQTTnet client; the socket file's mode and group,
/// its removal at stop, and a file left by a killed process replaced at start. Each test starts its own host.
/// </summary>
public sealed class UnixSocketTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("iothub-unix-").FullName;

    private string SocketPath => Path.Combine(_folder, "iothub.sock");

    [Fact]
    public async Task Mosquitto_clients_and_mqttnet_exchange_messages_over_the_socket_with_its_mode_and_group()
    {
        using var host = Start(("SocketMode", "0660"), ("SocketGroup", "daemon"));
        using (var stat = ChildProcess.Start("/usr/bin/stat", ["-c", "%F %a %G", SocketPath]))
        {
            await stat.WaitForSuccessAsync();
            Assert.Equal("socket 660 daemon", stat.Lines.Single());
        }

        using var subscriber = ChildProcess.Start("/usr/bin/stdbuf", ["-oL", "/usr/bin/mosquitto_sub", "-d", "--unix", SocketPath, "-i", "unix-sub",
            "-t", "unix/#", "-q", "1", "-C", "2", "-W", "30", "-F", "%t %p"]);
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);
        var info = host.Broker.FindSession("unix-sub")!.Connection!.Info;
        Assert.Equal((TransportKind.Unix, $"unix://{SocketPath}"), (info.Transport, info.Listener));

        using (var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["--unix", SocketPath, "-t", "unix/pub", "-m", "from mosquitto", "-q", "1"]))
        {
            await publisher.WaitForSuccessAsync();
        }

        await using var mqttnet = await MqttNetClient.ConnectAsync(host, Protocol.V500, "unix-mqttnet",
            transport: builder => builder.WithEndPoint(new UnixDomainSocketEndPoint(SocketPath)).WithProtocolType(ProtocolType.IP).WithAddressFamily(AddressFamily.Unix));
        await mqttnet.PublishAsync("unix/net", "from mqttnet", 1);

        await subscriber.WaitForSuccessAsync();
        Assert.Equal(["unix/pub from mosquitto", "unix/net from mqttnet"], subscriber.Lines.Where(static l => l.StartsWith("unix/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_socket_left_by_a_killed_process_is_replaced_and_the_socket_is_removed_at_stop()
    {
        // (A socket a live process listens on stops the start instead: TransportSettingsTests.)
        using (var killed = ChildProcess.Start("/usr/bin/python3", ["-c",
            "import socket, sys, time\ns = socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\nprint('listening', flush=True)\ntime.sleep(60)",
            SocketPath]))
        {
            await killed.WaitForLineAsync("listening");

            // Dispose kills it with SIGKILL: its socket file stays behind, as after a crash.
        }

        Assert.True(File.Exists(SocketPath));
        using (var host = Start())
        {
            using var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["--unix", SocketPath, "-t", "t", "-m", "m"]);
            await publisher.WaitForSuccessAsync();
        }

        Assert.False(File.Exists(SocketPath));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private InteropHost Start(params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string> { ["Mqtt:Listeners:local:Url"] = $"unix://{SocketPath}" };
        foreach (var (key, value) in settings)
        {
            all[$"Mqtt:Listeners:local:{key}"] = value;
        }

        return new InteropHost(all);
    }
}
