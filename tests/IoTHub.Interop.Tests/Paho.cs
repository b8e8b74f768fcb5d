using System.Globalization;
using System.Text.Json;
using System.Text;
using IoTHub.Testing;

namespace IoTHub.Interop.Tests;

/// <summary>
/// paho-mqtt (Debian python3-paho-mqtt 1.6) clients: small scripts copied next to the tests and run by
/// Debian's /usr/bin/python3, the only Python that imports paho (the first python3 on PATH may be another).
/// They print one JSON object per line: connack, suback, message, published, done (or timeout, connection_lost).
/// </summary>
internal static class Paho
{
    private const string Python = "/usr/bin/python3";

    /// <summary>
    /// Starts a subscriber that subscribes to each "filter:qos" and exits after <paramref name="count"/>
    /// messages (0: right after SUBACK, leaving a persistent session with its subscriptions). <paramref name="transport"/>
    /// holds connection options for another listener (as for <see cref="PublishAsync(InteropHost, IReadOnlyList{string}, Protocol, string, int, bool, string?[])"/>).
    /// </summary>
    public static ChildProcess Subscribe(InteropHost host, Protocol protocol, string clientId, int count, IEnumerable<string> subscriptions,
        bool clean = true, uint sessionExpiry = 0, IReadOnlyList<string>? transport = null)
    {
        List<string> arguments = [.. Common(host, protocol, clientId, clean, sessionExpiry), .. transport ?? [], "--count", Number(count)];
        foreach (var subscription in subscriptions)
        {
            arguments.AddRange(["--sub", subscription]);
        }

        return Run("paho_sub.py", arguments);
    }

    /// <summary>
    /// Starts paho_will.py: connects with a will (5.0: with a Will Delay Interval when above 0), then, by
    /// <paramref name="then"/>, "loop" (stays connected, pinging), "silent" (sends nothing more, no PINGREQ)
    /// or "disconnect" (normal DISCONNECT and exit). Wait for its CONNACK with <see cref="WaitUntilConnectedAsync"/>.
    /// </summary>
    public static ChildProcess StartWithWill(InteropHost host, Protocol protocol, string clientId, string willTopic, string willPayload,
        int willQos, string then, int keepAlive = 60, uint willDelay = 0, bool clean = true, uint sessionExpiry = 0)
    {
        List<string> arguments = [.. Common(host, protocol, clientId, clean, sessionExpiry), "--keepalive", Number(keepAlive),
            "--will-topic", willTopic, "--will-payload", willPayload, "--will-qos", Number(willQos),
            "--will-delay", willDelay.ToString(CultureInfo.InvariantCulture), "--then", then];
        return Run("paho_will.py", arguments);
    }

    /// <summary>Waits for a successful CONNACK (the scripts exit when it is a refusal).</summary>
    public static Task WaitUntilConnectedAsync(ChildProcess client) => client.WaitForLineAsync(line => Event(line) == "connack");

    public static Task WaitUntilSubscribedAsync(ChildProcess subscriber) => subscriber.WaitForLineAsync(line => Event(line) == "suback");

    /// <summary>Publishes the messages in order (null: a zero-byte payload, last) and waits until every flow is complete.</summary>
    public static Task PublishAsync(InteropHost host, Protocol protocol, string topic, int qos, bool retain, params string?[] messages) =>
        PublishAsync(host, [], protocol, topic, qos, retain, messages);

    /// <summary>
    /// As above over another listener: <paramref name="transport"/> holds the script's connection options, e.g.
    /// <c>--port 8083 --transport websockets --path /mqtt --cafile ca.pem</c>.
    /// </summary>
    public static async Task PublishAsync(InteropHost host, IReadOnlyList<string> transport, Protocol protocol, string topic, int qos, bool retain,
        params string?[] messages)
    {
        List<string> arguments = [.. Common(host, protocol, "", clean: true, 0), .. transport, "--topic", topic, "--qos", Number(qos)];
        if (retain)
        {
            arguments.Add("--retain");
        }

        foreach (var message in messages)
        {
            arguments.AddRange(message is null ? ["--empty"] : ["--message", message]);
        }

        using var publisher = Run("paho_pub.py", arguments);
        await publisher.WaitForSuccessAsync();
        Assert.Contains(publisher.Lines, line => Event(line) == "published");
    }

    /// <summary>
    /// Connects once with paho_pub.py (no message, then DISCONNECT) and returns the CONNACK's code: the 3.1.1 return code
    /// or the 5.0 reason code, 0 when accepted.
    /// </summary>
    public static async Task<int> ConnectOnceAsync(InteropHost host, Protocol protocol, string clientId, string? userName, string? password)
    {
        List<string> arguments = [.. Common(host, protocol, clientId, clean: true, 0), "--topic", "auth/check"];
        if (userName is not null)
        {
            arguments.AddRange(["--username", userName]);
        }

        if (password is not null)
        {
            arguments.AddRange(["--password", password]);
        }

        using var script = Run("paho_pub.py", arguments);
        await script.WaitForExitAsync();
        using var connAck = JsonDocument.Parse(script.Lines.First(line => Event(line) == "connack"));
        return connAck.RootElement.GetProperty("rc").GetInt32();
    }

    /// <summary>
    /// Runs paho_no_local.py: <paramref name="trials"/> replays of the Paho suite's no-local check by clients
    /// "{clientIdPrefix}-a" and "-b", B waiting for its SUBACK before A publishes or not; returns per trial how often B
    /// got A's "first" and "second" message and how many A got back of its own.
    /// </summary>
    public static async Task<List<(int BFirst, int BSecond, int AOwn)>> NoLocalTrialsAsync(InteropHost host, string clientIdPrefix, string topic,
        int trials, bool waitForSubAck, bool leftovers)
    {
        List<string> arguments = [.. Common(host, Protocol.V500, clientIdPrefix, clean: true, 0), "--topic", topic, "--trials", Number(trials),
            "--wait-suback", waitForSubAck ? "1" : "0"];
        if (leftovers)
        {
            arguments.Add("--leftovers");
        }

        using var script = Run("paho_no_local.py", arguments);
        await script.WaitForSuccessAsync();
        List<(int, int, int)> results = [];
        foreach (var line in script.Lines.Where(line => Event(line) == "trial"))
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            results.Add((root.GetProperty("b_first").GetInt32(), root.GetProperty("b_second").GetInt32(), root.GetProperty("a_own").GetInt32()));
        }

        return results;
    }

    /// <summary>
    /// Runs paho_max_packet.py: a 5.0 client with Maximum Packet Size <paramref name="maximumPacketSize"/> subscribed
    /// to <paramref name="filter"/> publishes each "topic:qos:size" in turn. Returns the packet ids it sent and those
    /// whose flow completed, and the topics delivered to it.
    /// </summary>
    public static async Task<(List<int> Sent, List<int> Acknowledged, List<string> Delivered)> PublishToOwnSubscriptionAsync(InteropHost host,
        string clientId, int maximumPacketSize, string filter, params string[] messages)
    {
        List<string> arguments = [.. Common(host, Protocol.V500, clientId, clean: true, 0), "--maximum-packet-size", Number(maximumPacketSize),
            "--filter", filter];
        foreach (var message in messages)
        {
            arguments.AddRange(["--message", message]);
        }

        using var script = Run("paho_max_packet.py", arguments);
        await script.WaitForSuccessAsync();
        using var published = JsonDocument.Parse(script.Lines.Single(line => Event(line) == "published"));
        var root = published.RootElement;
        List<string> delivered = [];
        foreach (var line in script.Lines.Where(line => Event(line) == "message"))
        {
            using var json = JsonDocument.Parse(line);
            delivered.Add(json.RootElement.GetProperty("topic").GetString()!);
        }

        return ([.. root.GetProperty("sent").EnumerateArray().Select(id => id.GetInt32())],
            [.. root.GetProperty("acknowledged").EnumerateArray().Select(id => id.GetInt32())], delivered);
    }

    /// <summary>The CONNACK's Session Present flag the script reported.</summary>
    public static bool SessionPresent(ChildProcess client)
    {
        var line = client.Lines.First(line => Event(line) == "connack");
        using var json = JsonDocument.Parse(line);
        return json.RootElement.GetProperty("session_present").GetInt32() == 1;
    }

    /// <summary>The messages the script's application received, in order.</summary>
    public static List<Received> Messages(ChildProcess subscriber) => [.. MessagesWithProperties(subscriber).Select(m => m.Message)];

    public static List<(Received Message, string? ContentType, List<(string Name, string Value)> UserProperties)> MessagesWithProperties(ChildProcess subscriber)
    {
        List<(Received, string?, List<(string, string)>)> messages = [];
        foreach (var line in subscriber.Lines.Where(line => Event(line) == "message"))
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var message = new Received(
                root.GetProperty("topic").GetString()!,
                Encoding.UTF8.GetString(Convert.FromHexString(root.GetProperty("payload_hex").GetString()!)),
                root.GetProperty("qos").GetInt32(),
                root.GetProperty("retain").GetInt32() == 1,
                root.GetProperty("dup").GetInt32() == 1);
            var contentType = root.GetProperty("content_type").GetString();
            List<(string, string)> userProperties = [.. root.GetProperty("user_properties").EnumerateArray()
                .Select(pair => (pair[0].GetString()!, pair[1].GetString()!))];
            messages.Add((message, contentType, userProperties));
        }

        return messages;
    }

    /// <summary>Waits until the subscriber's application has received <paramref name="count"/> messages in all.</summary>
    public static Task WaitForMessagesAsync(ChildProcess subscriber, int count) =>
        subscriber.WaitForLinesAsync(line => Event(line) == "message", count);

    private static string? Event(string line)
    {
        if (!line.StartsWith('{'))
        {
            return null;
        }

        using var json = JsonDocument.Parse(line);
        return json.RootElement.TryGetProperty("event", out var name) ? name.GetString() : null;
    }

    private static List<string> Common(InteropHost host, Protocol protocol, string clientId, bool clean, uint sessionExpiry) =>
    [
        "--host", host.Host, "--port", Number(host.Port), "--protocol", protocol == Protocol.V500 ? "5" : "311",
        "--client-id", clientId, "--clean", clean ? "1" : "0", "--session-expiry", sessionExpiry.ToString(CultureInfo.InvariantCulture),
    ];

    private static ChildProcess Run(string script, List<string> arguments) =>
        ChildProcess.Start(Python, ["-u", Path.Combine(AppContext.BaseDirectory, "Python", script), .. arguments]);

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
