using System.Diagnostics;
using System.Globalization;
using System.Text;
using IoTHub.Broker.Security.PasswordFile;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests.Transports;

/// <summary>
/// With one CPU (<c>DOTNET_PROCESSOR_COUNT=1</c>, what .NET sees in a container limited to one) the MQTT socket transport
/// reads and handles packets on its readiness thread instead of handing every read to the thread pool (issue 19), and a
/// password hashed at CONNECT leaves that thread, so it cannot hold up the other connections.
/// </summary>
public sealed class OneCpuReadsTests : IDisposable
{
    private const string InlineLine = "One CPU: MQTT connections are read and handled on the socket readiness thread";
    private const string AlicePassword = "alice-secret";
    private const string SlowPassword = "slow-secret";

    private readonly TempDirectory _folder = new();

    [Fact]
    public async Task With_one_cpu_clients_written_by_others_are_served_from_the_readiness_thread()
    {
        using var host = StartHost(processors: 1, WritePasswordFile(("alice", PasswordHash.Create(AlicePassword, 1_000))));
        await host.WaitForLineAsync(InlineLine);
        var port = (await host.WaitForMqttEndpointAsync()).Port.ToString(CultureInfo.InvariantCulture);

        using var subscriber = ChildProcess.Start("stdbuf", ["-oL", "mosquitto_sub", "-d", "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P", AlicePassword,
            "-i", "one-cpu-sub", "-q", "2", "-t", "one-cpu/+", "-C", "3", "-W", "30"]);
        await subscriber.WaitForLineAsync("Subscribed (mid: ");
        foreach (var qos in new[] { "0", "1", "2" })
        {
            using var publisher = ChildProcess.Start("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-u", "alice", "-P", AlicePassword,
                "-i", "one-cpu-pub-" + qos, "-q", qos, "-t", "one-cpu/" + qos, "-m", "at-qos-" + qos]);
            await publisher.WaitForSuccessAsync();
        }

        await subscriber.WaitForSuccessAsync();

        // Each arrives once at the QoS it was published with [MQTT-3.3.5-1]; with one publisher per QoS any order is allowed.
        var payloads = subscriber.Lines.Where(static line => line.StartsWith("at-qos-", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        Assert.Equal(["at-qos-0", "at-qos-1", "at-qos-2"], payloads);
    }

    [Fact]
    public async Task With_two_cpus_reads_stay_on_the_thread_pool()
    {
        using var host = StartHost(processors: 2, WritePasswordFile(("alice", PasswordHash.Create(AlicePassword, 1_000))));
        var endpoint = await host.WaitForMqttEndpointAsync();
        await using (var client = await MqttTestClient.OpenTcpAsync(endpoint))
        {
            await client.ConnectAcceptedAsync(Connect("two-cpus", "alice", AlicePassword));
            await client.PublishAndWaitAsync("two-cpus", "x");
        }

        // The line comes with the listening lines at start, long before a client got its PUBACK.
        Assert.DoesNotContain(InlineLine, host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_password_hashed_at_connect_does_not_hold_up_other_clients()
    {
        // A hash that takes this machine well over a second (measured, so a faster machine gets more iterations).
        var watch = Stopwatch.StartNew();
        var probe = PasswordHash.Create(SlowPassword, 1_000_000);
        var iterations = (int)Math.Min(int.MaxValue, 1_000_000 * Math.Max(1.0, 1.5 / watch.Elapsed.TotalSeconds));
        var slow = iterations == probe.Iterations ? probe : PasswordHash.Create(SlowPassword, iterations);
        using var host = StartHost(processors: 1, WritePasswordFile(("alice", PasswordHash.Create(AlicePassword, 1_000)), ("slow", slow)));
        await host.WaitForLineAsync(InlineLine);
        var endpoint = await host.WaitForMqttEndpointAsync();

        await using var alice = await MqttTestClient.OpenTcpAsync(endpoint);
        await alice.ConnectAcceptedAsync(Connect("alice", "alice", AlicePassword));

        // The slow client's connection waits idle for a while (alice's round trips), so its CONNECT is read where an idle
        // connection's data is read: on the readiness thread.
        await using var slowClient = await MqttTestClient.OpenTcpAsync(endpoint);
        for (var i = 0; i < 20; i++)
        {
            await alice.PublishAndWaitAsync("warm-up", "x");
        }

        var sent = Stopwatch.StartNew();
        var connAck = slowClient.ConnectRawAsync(Connect("slow", "slow", SlowPassword));
        var whileHashing = 0;
        while (!connAck.IsCompleted)
        {
            Assert.True(sent.Elapsed < TimeSpan.FromSeconds(60), "the slow client got no CONNACK");
            await alice.PublishAndWaitAsync("during-hash", "x");
            if (sent.Elapsed > TimeSpan.FromSeconds(0.5) && !connAck.IsCompleted)
            {
                whileHashing++;
            }
        }

        Assert.Equal(ReasonCode.Success, (await connAck).ReasonCode);
        Assert.True(sent.Elapsed > TimeSpan.FromSeconds(0.5), $"the hash took {sent.Elapsed}: too fast to tell");

        // Hashed on the readiness thread, alice's PUBLISH would wait for the hash to end: no round trip in between.
        Assert.True(whileHashing >= 20, $"only {whileHashing} of alice's round trips completed while the slow CONNECT was hashed ({sent.Elapsed})");
    }

    public void Dispose() => _folder.Dispose();

    private static ConnectPacket Connect(string clientId, string user, string password) =>
        new() { ClientId = clientId, UserName = user, Password = Encoding.UTF8.GetBytes(password) };

    private HostProcess StartHost(int processors, string passwordFile) =>
        HostProcess.Start(_folder.Path, new Dictionary<string, string> { ["DOTNET_PROCESSOR_COUNT"] = processors.ToString(CultureInfo.InvariantCulture) },
            "--http-port", "0", "--mqtt-port", "0", "--data-dir", Path.Combine(_folder.Path, "data"), "--Security:PasswordFile=" + passwordFile,
            "--Logging:LogLevel:IoTHub.Web.Hosting=Information");

    private string WritePasswordFile(params (string User, PasswordHash Hash)[] users)
    {
        var path = Path.Combine(_folder.Path, "passwords");
        File.WriteAllLines(path, users.Select(static user => user.User + ":" + user.Hash.Encoded));
        return path;
    }
}
