using System.Globalization;
using System.Text;
using IoTHub.Testing;

namespace IoTHub.Interop.Tests;

/// <summary>mosquitto_pub and mosquitto_sub (Debian mosquitto-clients) run as child processes.</summary>
internal static class Mosquitto
{
    private const string Pub = "/usr/bin/mosquitto_pub";
    private const string Sub = "/usr/bin/mosquitto_sub";

    /// <summary>mosquitto_sub writes to a pipe through a full stdio buffer; stdbuf (coreutils) makes it a line buffer.</summary>
    private const string LineBuffered = "/usr/bin/stdbuf";

    /// <summary>
    /// One line per message: QoS, retain flag, topic, payload in hex, 5.0 content type and user properties
    /// ("name:value" separated by spaces). Debug lines (-d) never start with "MSG\t".
    /// </summary>
    private const string Format = "MSG\t%q\t%r\t%t\t%x\t%C\t%P";

    public static string Version(Protocol protocol) => protocol == Protocol.V500 ? "mqttv5" : "mqttv311";

    /// <summary>
    /// Starts mosquitto_sub with debug output (-d), so "received SUBACK" tells when it is subscribed,
    /// exiting after <paramref name="count"/> messages.
    /// </summary>
    public static ChildProcess Subscribe(InteropHost host, Protocol protocol, string clientId, int qos, int count, params string[] topics)
    {
        List<string> arguments = ["-d", "-h", host.Host, "-p", Port(host), "-V", Version(protocol), "-i", clientId,
            "-q", Number(qos), "-C", Number(count), "-W", "30", "-F", Format];
        foreach (var topic in topics)
        {
            arguments.AddRange(["-t", topic]);
        }

        return ChildProcess.Start(LineBuffered, ["-oL", Sub, .. arguments]);
    }

    /// <summary>Starts mosquitto_sub with the given arguments after the connection ones (for -k, -c, ...).</summary>
    public static ChildProcess SubscribeWith(InteropHost host, Protocol protocol, params string[] arguments) =>
        ChildProcess.Start(LineBuffered, ["-oL", Sub, "-d", "-h", host.Host, "-p", Port(host), "-V", Version(protocol), "-F", Format, .. arguments]);

    /// <summary>Waits until mosquitto_sub has its SUBACK: it prints "Subscribed (mid: 1): granted QoS..." then.</summary>
    public static Task WaitUntilSubscribedAsync(ChildProcess subscriber) => subscriber.WaitForLineAsync("Subscribed (mid: ");

    /// <summary>
    /// Publishes each message (a null one as a zero-byte payload, -n) with one mosquitto_pub run and waits
    /// for it to exit: at QoS 1 and 2 it exits only when every flow is complete.
    /// </summary>
    public static async Task PublishAsync(InteropHost host, Protocol protocol, string topic, int qos, bool retain, params string?[] messages)
    {
        List<string> arguments = ["-h", host.Host, "-p", Port(host), "-V", Version(protocol), "-t", topic, "-q", Number(qos)];
        if (retain)
        {
            arguments.Add("-r");
        }

        string? input = null;
        if (messages.Length == 1)
        {
            arguments.AddRange(messages[0] is { } message ? ["-m", message] : ["-n"]);
        }
        else
        {
            // -l: one message per stdin line, all on one connection, in order.
            arguments.Add("-l");
            input = string.Concat(messages.Select(m => m + "\n"));
        }

        using var publisher = ChildProcess.Start(Pub, arguments, input);
        await publisher.WaitForSuccessAsync();
    }

    /// <summary>Runs mosquitto_pub with the given arguments after the connection ones and waits for success.</summary>
    public static async Task PublishWithAsync(InteropHost host, Protocol protocol, params string[] arguments)
    {
        using var publisher = ChildProcess.Start(Pub, ["-h", host.Host, "-p", Port(host), "-V", Version(protocol), .. arguments]);
        await publisher.WaitForSuccessAsync();
    }

    /// <summary>Runs mosquitto_pub -d with the given arguments after the connection ones, expecting a refusal; returns its output ("received CONNACK (134)").</summary>
    public static async Task<string> RefusedPublishWithAsync(InteropHost host, Protocol protocol, params string[] arguments)
    {
        using var publisher = ChildProcess.Start(Pub, ["-d", "-h", host.Host, "-p", Port(host), "-V", Version(protocol), .. arguments]);
        Assert.NotEqual(0, await publisher.WaitForExitAsync());
        return string.Join('\n', publisher.Lines);
    }

    /// <summary>The messages mosquitto_sub printed, in order.</summary>
    public static List<Received> Messages(ChildProcess subscriber) =>
        [.. subscriber.Lines.Where(IsMessage).Select(line => Parse(line).Message)];

    /// <summary>The messages with their 5.0 content type and user properties.</summary>
    public static List<(Received Message, string ContentType, string UserProperties)> MessagesWithProperties(ChildProcess subscriber) =>
        [.. subscriber.Lines.Where(IsMessage).Select(Parse)];

    public static bool IsMessage(string line) => line.StartsWith("MSG\t", StringComparison.Ordinal);

    private static (Received Message, string ContentType, string UserProperties) Parse(string line)
    {
        var fields = line.Split('\t');
        var payload = Encoding.UTF8.GetString(Convert.FromHexString(fields[4]));
        var message = new Received(fields[3], payload, int.Parse(fields[1], CultureInfo.InvariantCulture), fields[2] == "1");
        return (message, fields[5], fields[6]);
    }

    private static string Port(InteropHost host) => Number(host.Port);

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
