using System.Globalization;
using System.Text;
using IoTHub.Mqtt;

namespace IoTHub.LoadTest;

/// <summary>
/// Issue 17's access rules: one Mosquitto acl_file per rule count, which IoTHub (<c>Security:AclFile</c>) and Mosquitto
/// (<c>acl_file</c>) both read, and the check that a broker enforces it. The point-to-point clients then connect with
/// user names, <c>bench-</c> and their client id, without a password: neither broker has a password file then, and
/// both take a user name as it is and match the rules on it. Each of them has a user block that grants its pair's
/// topic only: write to the publisher, read to the subscriber. Around them, as in a fleet's file, filler device users
/// with two rules each and pattern rules (1 % of the rules, at least the two the check relies on).
/// </summary>
internal sealed class AccessRules : IDisposable
{
    /// <summary>
    /// The most rules a file may have: Mosquitto 2.0 looks each rule's user up in a list while loading, so its start
    /// grows with the square of the users (100 000 rules took 32 s on a busy machine, against the 60 s it may take).
    /// </summary>
    public const int MostRules = 20_000;

    /// <summary>The check's user: it has no block of its own, so only the patterns speak for it.</summary>
    private const string ProbeUser = "bench-probe";

    /// <summary>Every client may read its own device tree and write its telemetry there; nothing else under it.</summary>
    private static readonly string[] DevicePatterns = ["pattern read devices/%u/#", "pattern write devices/%u/telemetry"];

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10);

    private readonly string _folder;
    private readonly Dictionary<int, string> _files;

    private AccessRules(string folder, Dictionary<int, string> files) => (_folder, _files) = (folder, files);

    /// <summary>Whether a scenario gets rows with access rules: the point-to-point throughput ones, whose clients the rules name.</summary>
    public static bool Measures(Scenario scenario) => scenario.Kind == ScenarioKind.Throughput && scenario.Topology == Topology.PointToPoint;

    /// <summary>The fewest rules a file of <paramref name="pairs"/> point-to-point pairs can have: their grants and the device patterns.</summary>
    public static int FewestRules(int pairs) => 2 * pairs + DevicePatterns.Length;

    /// <summary>The user name a client connects with when the rules are on.</summary>
    public static string UserName(string clientId) => "bench-" + clientId;

    /// <summary>Writes one file per rule count (other than 0) for <paramref name="pairs"/> point-to-point pairs, readable by Mosquitto.</summary>
    public static AccessRules Create(IEnumerable<int> ruleCounts, int pairs)
    {
        var folder = Directory.CreateTempSubdirectory("iothub-load-acl-").FullName;
        var files = new Dictionary<int, string>();
        foreach (var rules in ruleCounts)
        {
            if (rules > 0)
            {
                files[rules] = Path.Combine(folder, "acl-" + rules.ToString(CultureInfo.InvariantCulture));
                File.WriteAllText(files[rules], Text(rules, pairs));
            }
        }

        BrokerProcess.LetMosquittoRead(folder, [.. files.Values]);
        return new AccessRules(folder, files);
    }

    /// <summary>The acl_file of <paramref name="rules"/> rules.</summary>
    public string FileWith(int rules) => _files[rules];

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>
    /// Fails unless the broker enforces the rules. The check's client, subscribed to its own device tree, publishes to its
    /// <c>config</c> topic, which no rule lets it write, and then to its <c>telemetry</c> topic, which a pattern does, on one
    /// connection: a broker routes them in that order, to the same subscriber. Once the second has arrived, the first
    /// must not have. The flow index in each payload says which one came.
    /// </summary>
    public static async Task VerifyEnforcedAsync(ClientTransport transport)
    {
        const string Tree = "devices/" + ProbeUser;
        Flow denied = new(0, 1), allowed = new(0, 1);
        var options = ClientOptions.Default with { UserName = ProbeUser };
        var probe = await LoadClient.ConnectAsync(transport, "acl-probe", [denied, allowed], options).ConfigureAwait(false);
        await using (probe.ConfigureAwait(false))
        {
            await probe.SubscribeAsync([Tree + "/#"], QualityOfService.AtMostOnce, ProbeTimeout).ConfigureAwait(false);
            var payload = new byte[LoadClient.PayloadHeader];
            await probe.PublishAsync([Encoding.UTF8.GetBytes(Tree + "/config")], null, payload, 0, QualityOfService.AtMostOnce, 1).ConfigureAwait(false);
            await probe.PublishAsync([Encoding.UTF8.GetBytes(Tree + "/telemetry")], null, payload, 1, QualityOfService.AtMostOnce, 1).ConfigureAwait(false);
            if (!await allowed.WaitAsync(ProbeTimeout).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"access rules: {Tree}/telemetry, which a pattern allows, did not reach {ProbeUser} within {ProbeTimeout.TotalSeconds} s");
            }

            if (denied.TryTake())
            {
                throw new InvalidOperationException($"access rules not enforced: {ProbeUser} published to {Tree}/config, which no rule allows, and it was delivered");
            }
        }
    }

    /// <summary>
    /// The file: the device patterns and filler patterns first, then filler device users (<c>device-000000</c>, ...: write
    /// to their telemetry, read their commands), and the tool's users last, so Mosquitto's search for a user's block at
    /// CONNECT walks past every other user.
    /// </summary>
    private static string Text(int rules, int pairs)
    {
        var patterns = Math.Max(DevicePatterns.Length, rules / 100);
        var fillerUserRules = rules - patterns - 2 * pairs;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# IoTHub load tool (tests/IoTHub.LoadTest): {rules} rules, {patterns} of them patterns, {2 * pairs} for its clients");
        foreach (var pattern in DevicePatterns)
        {
            text.AppendLine(pattern);
        }

        for (var site = 0; site < patterns - DevicePatterns.Length; site++)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"pattern readwrite sites/{site:D5}/%u/#");
        }

        for (var rule = 0; rule < fillerUserRules; rule++)
        {
            var device = (rule / 2).ToString("D6", CultureInfo.InvariantCulture);
            text.AppendLine(rule % 2 == 0 ? $"user device-{device}\ntopic write fleet/{device}/telemetry" : $"topic read fleet/{device}/commands/#");
        }

        for (var pair = 0; pair < pairs; pair++)
        {
            text.AppendLine($"user {UserName(Runner.PublisherId(pair))}\ntopic write {Runner.PointToPointTopic(pair)}");
            text.AppendLine($"user {UserName(Runner.SubscriberId(pair))}\ntopic read {Runner.PointToPointTopic(pair)}");
        }

        return text.ToString();
    }
}
