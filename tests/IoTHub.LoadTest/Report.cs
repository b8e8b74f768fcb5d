using System.Globalization;
using System.Text;

namespace IoTHub.LoadTest;

/// <summary>The results table, the issue's targets checked against it, and the docs/benchmarks.md section.</summary>
internal sealed class Report(Settings settings, string[] args)
{
    public const string Heading = "## Load test: IoTHub vs Mosquitto vs MQTTnet server";

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
    private readonly List<Result> _results = [];
    private readonly DateTime _started = DateTime.UtcNow;
    private readonly string _loadBefore = LoadAverage();
    private DateTime _finished;
    private string _loadAfter = "";

    public void Add(Result result) => _results.Add(result);

    public void Finish()
    {
        _finished = DateTime.UtcNow;
        _loadAfter = LoadAverage();
    }

    public static string LoadAverage()
    {
        var parts = File.ReadAllText("/proc/loadavg").Split(' ');
        return $"{parts[0]} {parts[1]} {parts[2]}";
    }

    public static string OneLine(Result r) => r.Error is not null
        ? "FAILED " + r.Error
        : r.Scenario.Kind == ScenarioKind.OpenLoop
        ? string.Join(Environment.NewLine + new string(' ', 32), r.Steps.Select(StepLine).Append(string.Join("; ", r.Notes)))
        : string.Create(Invariant, $"{Rate(r),12}/s  cpu {Cpu(r),8} µs  rss {Mb(r.RssBytes),8} MB  p50 {Us(r, 0.5)}  p99 {Us(r, 0.99)}  {Extra(r)}");

    private static string StepLine(RateStep s) => string.Create(Invariant,
        $"offered {s.Offered,9:N0}/s  published {s.Published,9:N0}/s  delivered {s.Delivered,9:N0}/s ({s.Delivered / s.Offered,4:P0})  broker {s.BrokerCpu,4:P0} / tool {s.ToolCpu,4:P0} of a core  p50 {Us(s.Latency, 0.5)}  p99 {Us(s.Latency, 0.99)} µs");

    public string Markdown()
    {
        var table = new StringBuilder();
        table.AppendLine("| Scenario | Broker | msgs/s | vs Mosquitto | CPU µs/msg | vs Mosquitto | RSS MB | p50 µs | p99 µs | p99.9 µs | max µs | notes |");
        table.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var r in _results.Where(r => r.Scenario.Kind != ScenarioKind.OpenLoop))
        {
            var mosquitto = Find(r.Scenario.Name, BrokerKind.Mosquitto, r.Transport, r.AclRules);
            if (r.Error is not null)
            {
                table.AppendLine(Invariant, $"| {r.Label} | {BrokerProcess.Name(r.Broker)} | failed | | | | | | | | | {r.Error.Replace('|', '/')} |");
                continue;
            }

            var rateRatio = mosquitto is null || r.Scenario.Kind == ScenarioKind.Idle ? "" : Ratio(r.Rate, mosquitto.Rate);
            var cpuRatio = mosquitto is null ? "" : Ratio(r.CpuMicroseconds, mosquitto.CpuMicroseconds);
            table.AppendLine(Invariant,
                $"| {r.Label} | {BrokerProcess.Name(r.Broker)} | {Rate(r)} | {rateRatio} | {Cpu(r)} | {cpuRatio} | {Mb(r.RssBytes)} | {Us(r, 0.5)} | {Us(r, 0.99)} | {Us(r, 0.999)} | {Max(r)} | {Extra(r)} |");
        }

        return table.ToString();
    }

    /// <summary>
    /// The open-loop rows, one per step: offered, published (less when TCP back-pressure held the publishers
    /// up) and delivered rates, and the broker's share of a core, next to Mosquitto's and the scenario's baseline.
    /// </summary>
    public string OpenLoopMarkdown()
    {
        var table = new StringBuilder();
        table.AppendLine("| Scenario | Broker | offered msgs/s | published msgs/s | delivered msgs/s | delivered/offered | vs Mosquitto | broker CPU | vs baseline | CPU µs/msg | p50 µs | p99 µs | tool CPU | notes |");
        table.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var r in _results.Where(r => r.Scenario.Kind == ScenarioKind.OpenLoop))
        {
            if (r.Error is not null)
            {
                table.AppendLine(Invariant, $"| {r.Label} | {BrokerProcess.Name(r.Broker)} | failed | | | | | | | | | | | {r.Error.Replace('|', '/')} |");
                continue;
            }

            var mosquitto = Find(r.Scenario.Name, BrokerKind.Mosquitto, r.Transport);
            var baseline = r.Scenario.Plan?.Baseline is { } name ? Find(name, r.Broker, r.Transport) : null;
            for (var i = 0; i < r.Steps.Count; i++)
            {
                var s = r.Steps[i];
                var label = r.Steps.Count == 1 ? r.Label : string.Create(Invariant, $"{r.Label} {i + 1}/{r.Steps.Count}");
                var vsMosquitto = mosquitto is null || mosquitto.Steps.Count <= i ? "" : Ratio(s.Delivered, mosquitto.Steps[i].Delivered);
                var vsBaseline = baseline is null || baseline.Steps.Count <= i ? "" : Ratio(s.BrokerCpu, baseline.Steps[i].BrokerCpu);
                var notes = i == 0 ? string.Join("; ", r.Notes).Replace('|', '/') : "";
                table.AppendLine(Invariant,
                    $"| {label} | {BrokerProcess.Name(r.Broker)} | {s.Offered:N0} | {s.Published:N0} | {s.Delivered:N0} | {s.Delivered / s.Offered:P0} | {vsMosquitto} | {s.BrokerCpu:P0} | {vsBaseline} | {Micro(s.CpuMicroseconds)} | {Us(s.Latency, 0.5)} | {Us(s.Latency, 0.99)} | {s.ToolCpu:P0} | {notes} |");
            }
        }

        return table.ToString();
    }

    /// <summary>Issue 26's targets, judged on IoTHub's open-loop rows over tcp.</summary>
    public string OpenLoopTargets()
    {
        var lines = new StringBuilder();
        void Line(string target, bool? holds, string evidence) =>
            lines.AppendLine(Invariant, $"| {target} | {(holds is null ? "not measured" : holds.Value ? "**holds**" : "**does not hold**")} | {evidence} |");

        lines.AppendLine("| Target | Verdict | Figures |");
        lines.AppendLine("| --- | --- | --- |");
        foreach (var (name, target) in new[]
        {
            ("offline-full", "offline sessions with full queues (offline-full): the live pair gets ≥ 95 % of the offered rate, broker CPU ≤ 2x offline-none"),
            ("stuck-subscriber", "a stuck subscriber (stuck-subscriber): the live pair gets ≥ 95 % of the offered rate, broker CPU ≤ 2x stuck-none"),
        })
        {
            var run = Find(name, BrokerKind.IoTHub);
            var baseline = run?.Scenario.Plan?.Baseline is { } baselineName ? Find(baselineName, BrokerKind.IoTHub) : null;
            var step = run?.Steps is [var first, ..] ? first : null;
            var baseStep = baseline?.Steps is [var baseFirst, ..] ? baseFirst : null;
            Line(target,
                step is null || baseStep is null ? null : step.Delivered >= 0.95 * step.Offered && step.BrokerCpu <= 2 * baseStep.BrokerCpu,
                step is null || baseStep is null ? "" : string.Create(Invariant, $"{step.Delivered:N0} msgs/s ({step.Delivered / step.Offered:P0}), CPU {step.BrokerCpu:P0} vs {baseStep.BrokerCpu:P0} of a core ({Ratio(step.BrokerCpu, baseStep.BrokerCpu)})"));
        }

        // No collapse: after the peak, each rate delivers at least 90 % of what the same rate delivered before it.
        var overload = Find("overload", BrokerKind.IoTHub);
        var after = overload?.Steps.SkipWhile(s => s.Offered < overload.Steps.Max(m => m.Offered)).Skip(1).ToList() ?? [];
        var pairs = after.Select(a => (After: a, Before: overload!.Steps.First(b => b.Offered == a.Offered))).ToList();
        Line("overload: no collapse, each rate offered after the peak delivers ≥ 90 % of what it delivered before it",
            pairs.Count == 0 ? null : pairs.All(p => p.After.Delivered >= 0.9 * p.Before.Delivered),
            string.Join(", ", pairs.Select(p => string.Create(Invariant, $"{p.After.Offered / 1000:N0}k: {p.Before.Delivered:N0} before, {p.After.Delivered:N0} after"))));
        return lines.ToString();
    }

    private Result? Find(string scenario, BrokerKind kind, Transport transport = Transport.Tcp, int aclRules = 0) =>
        _results.Find(r => r.Scenario.Name == scenario && r.Broker == kind && r.Transport == transport && r.AclRules == aclRules && r.Error is null);

    /// <summary>Issue 7's targets, judged on the tcp rows without access rules, each with the figures it was judged on.</summary>
    public string Targets()
    {
        var lines = new StringBuilder();
        Result? Find(string prefix, BrokerKind kind) => _results.Find(r => r.Scenario.Name.StartsWith(prefix, StringComparison.Ordinal) && r.Broker == kind
            && r.Transport == Transport.Tcp && r.AclRules == 0 && r.Error is null);
        void Line(string target, bool? holds, string evidence) =>
            lines.AppendLine(Invariant, $"| {target} | {(holds is null ? "not measured" : holds.Value ? "**holds**" : "**does not hold**")} | {evidence} |");

        lines.AppendLine("| Target | Verdict | Figures |");
        lines.AppendLine("| --- | --- | --- |");
        var (iot, mosq) = (Find("p2p-qos0", BrokerKind.IoTHub), Find("p2p-qos0", BrokerKind.Mosquitto));
        Line("point-to-point QoS 0 4→4: ≥ 2x Mosquitto msgs/s and ≤ 0.5x its CPU/msg",
            iot is null || mosq is null ? null : iot.Rate >= 2 * mosq.Rate && iot.CpuMicroseconds <= 0.5 * mosq.CpuMicroseconds,
            iot is null || mosq is null ? "" : $"{Ratio(iot.Rate, mosq.Rate)} msgs/s, {Ratio(iot.CpuMicroseconds, mosq.CpuMicroseconds)} CPU/msg");
        (iot, mosq) = (Find("p2p-qos1", BrokerKind.IoTHub), Find("p2p-qos1", BrokerKind.Mosquitto));
        Line("point-to-point QoS 1: ≥ 2x Mosquitto msgs/s",
            iot is null || mosq is null ? null : iot.Rate >= 2 * mosq.Rate,
            iot is null || mosq is null ? "" : $"{Ratio(iot.Rate, mosq.Rate)} msgs/s");
        (iot, mosq) = (Find("fanout-", BrokerKind.IoTHub), Find("fanout-", BrokerKind.Mosquitto));
        Line("fan-out 1→1000 QoS 0: ≥ 100 000 deliveries/s and ≥ 2x Mosquitto",
            iot is null || mosq is null ? null : iot.Rate >= 100_000 && iot.Rate >= 2 * mosq.Rate,
            iot is null || mosq is null ? "" : $"{Rate(iot)}/s, {Ratio(iot.Rate, mosq.Rate)} Mosquitto");
        iot = Find("latency-", BrokerKind.IoTHub);
        Line("latency at 10 000 msgs/s: p99 < 1 ms",
            iot?.Latency is null ? null : iot.Latency.Percentile(0.99) < 1_000_000,
            iot is null ? "" : $"p99 {Us(iot, 0.99)} µs");
        (iot, var kestrel) = (Find("idle-", BrokerKind.IoTHub), Find("idle-", BrokerKind.Kestrel));
        Line("idle connections: RSS/conn ≤ bare Kestrel + 1.5 KB (roadmap: < 1 KB)",
            iot is null || kestrel is null ? null : iot.RssPerConnection <= kestrel.RssPerConnection + 1536,
            iot is null || kestrel is null ? "" : $"IoTHub {Kb(iot.RssPerConnection)} KB, Kestrel {Kb(kestrel.RssPerConnection)} KB");
        // Judged at the fixed rate, where both rows carry the same load; the saturated pair is shown beside it.
        Result? Named(string name) => this.Find(name, BrokerKind.IoTHub);
        var (small, large) = (Named("devices-1k-paced"), Named("devices-100k-paced"));
        var (smallSaturated, largeSaturated) = (Named("devices-1k"), Named("devices-100k"));
        var saturated = smallSaturated is null || largeSaturated is null ? ""
            : $"; saturated: {Cpu(largeSaturated)} vs {Cpu(smallSaturated)} µs/msg ({Ratio(largeSaturated.CpuMicroseconds, smallSaturated.CpuMicroseconds)}), {Rate(largeSaturated)} vs {Rate(smallSaturated)} msgs/s";
        Line("100 000 device subscriptions: publish cost (CPU/msg) within 20 % of 1 000, at the same fixed rate",
            small is null || large is null ? null : large.CpuMicroseconds <= 1.2 * small.CpuMicroseconds,
            (small is null || large is null ? "" : $"{Cpu(large)} vs {Cpu(small)} µs/msg ({Ratio(large.CpuMicroseconds, small.CpuMicroseconds)}) at {Rate(large)} vs {Rate(small)} msgs/s") + saturated);
        iot = Find("connect-rate", BrokerKind.IoTHub);
        Line("connection rate ≥ 5 000/s", iot is null ? null : iot.Rate >= 5_000, iot is null ? "" : $"{Rate(iot)}/s");
        return lines.ToString();
    }

    /// <summary>
    /// Issue 16's targets, judged on IoTHub's rows: over tls, at least twice Mosquitto's point-to-point throughput and at
    /// least its connect rate (full handshakes, and resumed ones); over ws, within 20 % of its own throughput over tcp.
    /// </summary>
    public string TransportTargets()
    {
        var lines = new StringBuilder();
        void Line(string target, Result? measured, Result? reference, Func<Result, Result, bool> holds, Func<Result, Result, string> evidence) =>
            lines.AppendLine(Invariant, $"| {target} | {(measured is null || reference is null ? "not measured" : holds(measured, reference) ? "**holds**" : "**does not hold**")} | {(measured is null || reference is null ? "" : evidence(measured, reference))} |");

        lines.AppendLine("| Target | Verdict | Figures |");
        lines.AppendLine("| --- | --- | --- |");
        foreach (var name in new[] { "p2p-qos0", "p2p-qos1" })
        {
            Line($"{name} over tls: ≥ 2x Mosquitto's msgs/s over tls", Find(name, BrokerKind.IoTHub, Transport.Tls), Find(name, BrokerKind.Mosquitto, Transport.Tls),
                static (iot, mosq) => iot.Rate >= 2 * mosq.Rate,
                static (iot, mosq) => $"{Rate(iot)} vs {Rate(mosq)} msgs/s ({Ratio(iot.Rate, mosq.Rate)}), CPU/msg {Ratio(iot.CpuMicroseconds, mosq.CpuMicroseconds)}");
        }

        foreach (var (name, handshakes) in new[] { ("connect-rate", "full handshakes"), ("connect-rate-resume", "resumed sessions") })
        {
            Line($"{name} over tls ({handshakes}): ≥ Mosquitto's connects/s", Find(name, BrokerKind.IoTHub, Transport.Tls), Find(name, BrokerKind.Mosquitto, Transport.Tls),
                static (iot, mosq) => iot.Rate >= mosq.Rate,
                static (iot, mosq) => string.Create(Invariant, $"{Rate(iot)} vs {Rate(mosq)} connects/s ({Ratio(iot.Rate, mosq.Rate)}), CPU/connect {Ratio(iot.CpuMicroseconds, mosq.CpuMicroseconds)}; the tool used {iot.ToolCpu:P0} and {mosq.ToolCpu:P0} of its core"));
        }

        foreach (var name in new[] { "p2p-qos0", "p2p-qos1" })
        {
            Line($"{name} over ws: within 20 % of IoTHub's msgs/s over tcp", Find(name, BrokerKind.IoTHub, Transport.WebSocket), Find(name, BrokerKind.IoTHub),
                static (ws, tcp) => ws.Rate >= 0.8 * tcp.Rate,
                static (ws, tcp) => $"{Rate(ws)} vs {Rate(tcp)} msgs/s ({Ratio(ws.Rate, tcp.Rate)}), CPU/msg {Cpu(ws)} vs {Cpu(tcp)} µs ({Ratio(ws.CpuMicroseconds, tcp.CpuMicroseconds)})");
        }

        return lines.ToString();
    }

    /// <summary>
    /// Issue 17's comparison: each broker's rows with an acl_file against the same rows without one (same scenario and
    /// transport), msgs/s and CPU per message on/off; and its target, for IoTHub: msgs/s with the rules within 10 % of without.
    /// </summary>
    public string AccessRuleTargets()
    {
        var lines = new StringBuilder();
        lines.AppendLine("| Rows | Broker | msgs/s acl off → on | on/off | CPU µs/msg acl off → on | on/off | Target: IoTHub's msgs/s on within 10 % of off |");
        lines.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | --- |");
        foreach (var on in _results.Where(r => r.AclRules > 0 && r.Error is null))
        {
            var off = Find(on.Scenario.Name, on.Broker, on.Transport);
            var verdict = on.Broker != BrokerKind.IoTHub ? "" : off is null ? "not measured (no row without rules)"
                : on.Rate >= 0.9 * off.Rate ? "**holds**" : "**does not hold**";
            var figures = off is null ? $"{Rate(on)} | | {Cpu(on)} |"
                : $"{Rate(off)} → {Rate(on)} | {Ratio(on.Rate, off.Rate)} | {Cpu(off)} → {Cpu(on)} | {Ratio(on.CpuMicroseconds, off.CpuMicroseconds)}";
            lines.AppendLine(Invariant, $"| {on.Label} | {BrokerProcess.Name(on.Broker)} | {figures} | {verdict} |");
        }

        return lines.ToString();
    }

    /// <summary>Replaces (or appends) the load-test section of docs/benchmarks.md.</summary>
    public void WriteDocs(string path)
    {
        var section = new StringBuilder();
        section.AppendLine(Heading);
        section.AppendLine();
        section.AppendLine("Written by the load tool in `tests/IoTHub.LoadTest` (its README says what each scenario does and how");
        section.AppendLine("it is measured). Each broker runs alone, pinned to CPU 0 (`taskset -c 0`), the tool on CPU 1. msgs/s");
        section.AppendLine("counts deliveries to subscribers (connects for `connect-rate`, connections opened for `idle-*`); CPU");
        section.AppendLine("is the broker's utime + stime from `/proc/PID/stat` per delivery; RSS is `VmRSS` at the end of the");
        section.AppendLine("measured window; latencies are publish-to-delivery as the tool sees them (closed loop, so in the");
        section.AppendLine("throughput rows they include queueing; `latency-10k` and `latency-50k` are open loop at fixed rates). Ratios are vs Mosquitto");
        section.AppendLine("over the same transport: rows named with `tls`, `ws` or `wss` ran over it, all others over TCP.");
        section.AppendLine();
        section.AppendLine("### Run");
        section.AppendLine();
        section.AppendLine(Invariant, $"- **Date:** {_started:yyyy-MM-dd}, {_started:HH:mm} to {_finished:HH:mm} UTC.");
        section.AppendLine(Invariant, $"- **Machine:** {Environment.ProcessorCount} cores, {MemTotal()}, CPU \"{CpuModel()}\", {Environment.OSVersion.VersionString}, .NET {Environment.Version}.");
        section.AppendLine(Invariant, $"- **Load average** (1, 5, 15 min): {_loadBefore} at the start, {_loadAfter} at the end.{(LoadHigh() ? " Other work shared the machine: the figures are noisy." : "")}");
        section.AppendLine(Invariant, $"- **Settings:** {settings.DurationSeconds} s measured after a warm-up of at least {settings.WarmupSeconds} s and until the broker's CPU per delivery settled (at most {settings.MaxWarmupSeconds} s; the notes give each one) per scenario and broker, window {settings.Window} messages per publisher, a fresh broker process per scenario.");
        section.AppendLine("- **Command**, from the repository root:");
        section.AppendLine();
        section.AppendLine("  ```sh");
        section.AppendLine("  ulimit -n 20000");
        section.AppendLine("  dotnet build IoTHub.Web.sln -c Release");
        section.AppendLine("  dotnet run -c Release --project tests/IoTHub.LoadTest -- " + string.Join(' ', args));
        section.AppendLine("  ```");
        section.AppendLine();
        section.AppendLine("### Results");
        section.AppendLine();
        section.Append(Markdown());
        section.AppendLine();
        section.AppendLine("### Targets (issue 7)");
        section.AppendLine();
        section.Append(Targets());
        if (_results.Any(r => r.Transport != Transport.Tcp))
        {
            section.AppendLine();
            section.AppendLine("### Transports (issue 16)");
            section.AppendLine();
            section.AppendLine("Every broker serves one certificate made for the run (ECDSA P-256, signed by a test authority) over TLS 1.3");
            section.AppendLine("only, and WebSockets at `/mqtt` with the sub-protocol `mqtt`; `connect-rate` makes a full TLS handshake per");
            section.AppendLine("connect, `connect-rate-resume` resumes a session of an earlier one (tests/IoTHub.LoadTest/README.md).");
            section.AppendLine();
            section.Append(TransportTargets());
        }

        if (_results.Any(r => r.AclRules > 0))
        {
            section.AppendLine();
            section.AppendLine("### Access rules (issue 17)");
            section.AppendLine();
            section.AppendLine("IoTHub (`Security:AclFile`) and Mosquitto (`acl_file`) read one Mosquitto acl_file of N rules (`acl-N` rows): each");
            section.AppendLine("point-to-point client has its own user block granting its pair's topic, among filler users and pattern rules; before");
            section.AppendLine("each row a publish outside the rules must not be delivered (tests/IoTHub.LoadTest/README.md). The MQTTnet server has");
            section.AppendLine("no acl_file and is left out.");
            section.AppendLine();
            section.Append(AccessRuleTargets());
        }

        if (_results.Any(r => r.Scenario.Kind == ScenarioKind.OpenLoop))
        {
            section.AppendLine();
            section.AppendLine("### Open loop: full queues and overload (issue 26)");
            section.AppendLine();
            section.AppendLine(Invariant, $"Every broker with a queue limit of {OpenLoopPlan.QueueLimit:N0} messages per session; each step {settings.DurationSeconds} s. CPU is the broker's share of one core; \"vs baseline\" compares it with the same run without the offline sessions or the stuck subscriber.");
            section.AppendLine();
            section.Append(OpenLoopMarkdown());
            section.AppendLine();
            section.Append(OpenLoopTargets());
        }

        var text = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n";
        var start = text.IndexOf(Heading, StringComparison.Ordinal);
        if (start < 0)
        {
            text = text.TrimEnd() + "\n\n" + section;
        }
        else
        {
            var end = text.IndexOf("\n## ", start + Heading.Length, StringComparison.Ordinal);
            text = text[..start] + section + (end < 0 ? "" : "\n" + text[(end + 1)..]);
        }

        File.WriteAllText(path, text);
    }

    private bool LoadHigh() =>
        double.Parse(_loadBefore.Split(' ')[0], Invariant) > 2.5 || double.Parse(_loadAfter.Split(' ')[0], Invariant) > 2.5;

    private static string MemTotal()
    {
        var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var kb = long.Parse(line[9..].Trim().Split(' ')[0], Invariant);
        return string.Create(Invariant, $"{kb / 1048576.0:F1} GiB memory");
    }

    private static string CpuModel() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";

    private static string Ratio(double value, double baseline) =>
        baseline > 0 && !double.IsNaN(value) ? string.Create(Invariant, $"{value / baseline:F2}x") : "";

    private static string Rate(Result r) => r.Scenario.Kind == ScenarioKind.Idle ? "" : r.Rate.ToString("N0", Invariant);

    private static string Cpu(Result r) => Micro(r.CpuMicroseconds);

    private static string Micro(double microseconds) => double.IsNaN(microseconds) ? "" : microseconds.ToString(microseconds < 100 ? "F2" : "N0", Invariant);

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("F1", Invariant);

    private static string Kb(double bytes) => (bytes / 1024).ToString("F2", Invariant);

    private static string Us(Result r, double fraction) => Us(r.Latency, fraction);

    private static string Us(LatencyHistogram? latency, double fraction) =>
        latency is null || latency.Count == 0 ? "" : (latency.Percentile(fraction) / 1000.0).ToString("N0", Invariant);

    private static string Max(Result r) =>
        r.Latency is null || r.Latency.Count == 0 ? "" : (r.Latency.Max / 1000.0).ToString("N0", Invariant);

    private static string Extra(Result r) => r.Scenario.Kind switch
    {
        ScenarioKind.Idle => string.Create(Invariant, $"{Kb(r.RssPerConnection)} KB RSS/conn; {r.Rate:N0} conn/s opened{string.Concat(r.Notes.Select(n => "; " + n))}"),
        ScenarioKind.ConnectRate => string.Create(Invariant,
            $"connects/s; CPU per connect; latency: connection opened to CONNACK; broker {r.BrokerCpu:P0} / tool {r.ToolCpu:P0} of a core; {(r.Scenario.Fresh ? "a fresh broker, no warm-up" : WarmupNote(r.Warmup))}{string.Concat(r.Notes.Select(n => "; " + n))}"),
        _ => string.Create(Invariant, $"{(r.Scenario.Nodes > 1 ? $"{r.Scenario.Nodes} nodes' " : "")}broker {r.BrokerCpu:P0} / tool {r.ToolCpu:P0} of a core; {WarmupNote(r.Warmup)}{(r.Stalls > 0 ? $"; {r.Stalls} stalls (lost/stuck messages)" : "")}{string.Concat(r.Notes.Select(n => "; " + n))}"),
    };

    private static string WarmupNote(Warmup? warmup) => warmup switch
    {
        null => "",
        { Settled: true } => string.Create(Invariant, $"settled after {warmup.Seconds:N0} s"),
        _ => string.Create(Invariant, $"not settled after {warmup.Seconds:N0} s"),
    };
}
