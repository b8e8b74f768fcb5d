using System.Diagnostics;
using System.Globalization;
using IoTHub.LoadTest;

// The load tool: README.md says how to run it and what it measures.
Settings? settings;
try
{
    settings = Settings.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException)
{
    await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
    settings = null;
}

if (settings is null)
{
    Console.WriteLine("""
        usage: dotnet run -c Release --project tests/IoTHub.LoadTest -- (--all | --scenarios a,b,... | --start-time sqlite,postgres | --soak minutes) [options]
          --all                every scenario on every broker, and write docs/benchmarks.md
          --scenarios a,b      some scenarios (names below)
          --brokers a,b        iothub,mosquitto,mqttnet,kestrel (default: all; kestrel runs only idle-* over tcp)
          --transport a,b      tcp,tls,ws,wss: each scenario over each of them in turn (default: tcp)
          --acl-rules a,b      point-to-point scenarios with an acl_file of a, b, ... rules in turn, 0 = none
                               (default 0); IoTHub and Mosquitto only, rows "p2p-qos0 acl-1000"
          --duration s         measured seconds per scenario and broker, and per open-loop step (default 5)
          --warmup s           at least s seconds of load before measuring, until the broker's CPU per
                               message has settled (default 20; open-loop scenarios have their own)
          --max-warmup s       at most s seconds of warm-up (default 60)
          --window n           messages a publisher may be ahead of delivery (default 100)
          --idle n             idle connections (default 10000)
          --hold s             keep the idle connections open s seconds after measuring (to profile)
          --idle-samples a,b   read RSS per idle connection again a, b, ... seconds after the last connect
          --connects n         measured connects for connect-rate (default 5000)
          --docs | --no-docs   write (or not) the table to docs/benchmarks.md
          --no-pin             do not pin brokers to CPU 0 and the tool to CPU 1
          --node-logs dir      keep every broker's output in dir, a file per process, each line with its UTC time
                               (IoTHub's cluster and broker events at information level)
          --start-time a,b     instead of scenarios: IoTHub's start with 100 000 sessions and 1 000 000 retained
                               messages stored in sqlite and/or postgres (issue 24), unpinned
          --runs n             starts per provider with --start-time, runs per signal with --failover (default 3)
          --failover kill,stop instead of scenarios: issue 20's failover time, a node of three killed (SIGKILL) or
                               frozen (SIGSTOP) under QoS 1 and QoS 2 load, its persistent subscribers moving to another node
          --soak minutes       instead of scenarios: issue 24's soak, mixed load for that long with every QoS 1/2
                               message accounted for and the broker's RSS sampled (IoTHub unless --brokers
                               names others: iothub,mosquitto); exit code 1 when anything is missing or logged
        scenarios:
        """);
    foreach (var s in Scenario.All(new Settings()))
    {
        Console.WriteLine($"  {s.Name,-19} {s.Description}");
    }

    return 2;
}

var paths = Paths.Find();
BrokerProcess.LogFolder = settings.NodeLogs;
if (settings.StartTimeProviders.Count > 0)
{
    // The whole machine, as a broker starts in production.
    return await StartTime.RunAsync(settings, paths, "0-" + (Environment.ProcessorCount - 1).ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
}

var scenarios = Scenario.All(settings).Where(s => settings.All || settings.Scenarios.Contains(s.Name)).ToList();
if (scenarios.Count == 0 && settings.SoakMinutes == 0 && settings.FailoverSignals.Count == 0)
{
    await Console.Error.WriteLineAsync("no such scenario: " + string.Join(',', settings.Scenarios)).ConfigureAwait(false);
    return 2;
}

foreach (var dll in new[] { paths.IoTHubDll, paths.MqttNetServerDll, paths.KestrelServerDll })
{
    if (!File.Exists(dll))
    {
        await Console.Error.WriteLineAsync("missing " + dll + ": build the solution in Release first").ConfigureAwait(false);
        return 2;
    }
}

Console.CancelKeyPress += (_, _) => BrokerProcess.KillAll();
AppDomain.CurrentDomain.ProcessExit += (_, _) => BrokerProcess.KillAll();
var brokerCpu = "0";
if (settings.Pin)
{
    // Every thread of the tool on CPU 1 (threads made later inherit it); brokers on CPU 0.
    var start = new ProcessStartInfo("taskset", ["-a", "-cp", "1", Environment.ProcessId.ToString(CultureInfo.InvariantCulture)]) { RedirectStandardOutput = true };
    using var pin = Process.Start(start)!;
    await pin.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
    await pin.WaitForExitAsync().ConfigureAwait(false);
}
else
{
    brokerCpu = "0-" + (Environment.ProcessorCount - 1).ToString(CultureInfo.InvariantCulture);
}

if (settings.FailoverSignals.Count > 0)
{
    return await Failover.RunAsync(settings, paths, brokerCpu).ConfigureAwait(false);
}

if (settings.SoakMinutes > 0)
{
    return await Soak.RunAsync(settings, paths, brokerCpu).ConfigureAwait(false);
}

// The authentication scenarios' password file, written once by mosquitto_passwd for IoTHub and Mosquitto.
var credentials = scenarios.Any(s => s.Authentication == ConnectAuthentication.PasswordFile) ? await Credentials.CreateAsync().ConfigureAwait(false) : null;

// The one certificate every broker serves over tls and wss in this run, and the authority the clients trust.
using var certificates = settings.Transports.Any(t => t.UsesTls()) ? TestCertificates.Create() : null;

// The access rules' acl_files, one per rule count, each read by IoTHub and Mosquitto alike.
var pairs = scenarios.Where(AccessRules.Measures).Select(s => s.Publishers).DefaultIfEmpty(0).Max();
if (pairs > 0 && settings.AclRules.Exists(rules => rules > 0 && rules < AccessRules.FewestRules(pairs)))
{
    await Console.Error.WriteLineAsync($"--acl-rules: 0 or at least {AccessRules.FewestRules(pairs)} (the point-to-point clients' rules and two patterns)").ConfigureAwait(false);
    return 2;
}

using var accessRules = pairs > 0 && settings.AclRules.Exists(rules => rules > 0) ? AccessRules.Create(settings.AclRules, pairs) : null;

// The cross-node scenarios' membership database: one PostgreSQL for the run (the tests' server, from Debian's binaries), a new database per cluster.
await using var clusterDatabase = scenarios.Any(s => s.Nodes > 1) ? new IoTHub.Testing.PostgresServer() : null;
if (clusterDatabase is not null)
{
    await clusterDatabase.InitializeAsync().ConfigureAwait(false);
}

var report = new Report(settings, args);
Console.WriteLine($"load average at start: {Report.LoadAverage()}");
foreach (var (scenario, transport, aclRules) in scenarios.SelectMany(s => settings.Transports.SelectMany(t => settings.AclRules.Select(n => (s, t, n)))))
{
    if (aclRules > 0 && !AccessRules.Measures(scenario))
    {
        Console.WriteLine($"{scenario.Name} with {aclRules} access rules: skipped, they are measured on the point-to-point throughput scenarios");
        continue;
    }

    // Resumption is a TLS matter: the row would repeat connect-rate's.
    if (scenario.ResumeTlsSessions && !transport.UsesTls())
    {
        Console.WriteLine($"{scenario.Name} over {transport.Name()}: skipped, it resumes TLS sessions (tls or wss only)");
        continue;
    }

    foreach (var kind in settings.Brokers)
    {
        // The bare Kestrel app is the memory floor of idle tcp connections, nothing else.
        if (kind == BrokerKind.Kestrel && (scenario.Kind != ScenarioKind.Idle || transport != Transport.Tcp))
        {
            continue;
        }

        // The MQTTnet server has no password-file authentication of its own to compare, and only IoTHub keeps users in a database
        // or asks a webhook, a SQL database or a directory, or checks JWTs (Mosquitto would need third-party plugins).
        if (scenario.Authentication == ConnectAuthentication.PasswordFile ? kind is BrokerKind.MqttNet or BrokerKind.Kestrel
            : scenario.Authentication != ConnectAuthentication.None && kind != BrokerKind.IoTHub)
        {
            continue;
        }

        // Nor has it an acl_file.
        if (aclRules > 0 && kind is not (BrokerKind.IoTHub or BrokerKind.Mosquitto))
        {
            continue;
        }

        // Neither Mosquitto nor the MQTTnet server clusters; the cross-node scenarios run over tcp without access rules or authentication.
        if (scenario.Nodes > 1 && (kind != BrokerKind.IoTHub || transport != Transport.Tcp || aclRules > 0))
        {
            continue;
        }

        // The connect scenarios spread their connects over many source addresses (ConnectSource); the idle ones connect from 127.0.0.1.
        if (scenario.Kind is ScenarioKind.Idle)
        {
            await TimeWait.WaitUntilFewAsync().ConfigureAwait(false);
        }

        var row = new Result(scenario, kind) { Transport = transport, AclRules = aclRules };
        Console.Write($"{row.Label,-20} {BrokerProcess.Name(kind),-14} ");
        Result result;
        try
        {
            // The open-loop scenarios compare the brokers at one queue limit per session (OpenLoopPlan).
            var queueLimit = scenario.Plan is null ? (int?)null : OpenLoopPlan.QueueLimit;
            var passwordFile = scenario.Authentication == ConnectAuthentication.PasswordFile ? credentials!.PasswordFile : null;
            var databaseUsers = scenario.Authentication == ConnectAuthentication.Database;
            var aclFile = aclRules > 0 ? accessRules!.FileWith(aclRules) : null;
            await using var backend = await AuthenticationBackends.StartAsync(scenario.Authentication).ConfigureAwait(false);
            if (scenario.Nodes > 1)
            {
                await using var cluster = await ClusterNodes.StartAsync(scenario.Nodes, paths, brokerCpu, clusterDatabase!, scenario.SharedStore).ConfigureAwait(false);
                result = await new Runner(cluster.Nodes[0], cluster.ClientsOf(0), settings, cluster: cluster).RunAsync(scenario).ConfigureAwait(false);
            }
            else
            {
                await using var broker = await BrokerProcess.StartAsync(kind, paths, brokerCpu, transport, certificates, queueLimit, passwordFile, databaseUsers, aclFile,
                    backend?.Settings).ConfigureAwait(false);
                var runnerCredentials = scenario.Authentication switch
                {
                    ConnectAuthentication.PasswordFile => credentials,
                    ConnectAuthentication.Database => await DatabaseUsers.CreateAsync(broker).ConfigureAwait(false),
                    _ => backend?.Credentials,
                };
                var clients = new ClientTransport(broker.Port, transport, certificates?.Authority, scenario.ResumeTlsSessions);
                result = (await new Runner(broker, clients, settings, runnerCredentials, aclFile is not null).RunAsync(scenario).ConfigureAwait(false)) with { Transport = transport, AclRules = aclRules };
            }

            // Counted once the broker has stopped: a database adds a connection's counts when it ends.
            if (backend is not null && await backend.CountAsync().ConfigureAwait(false) is { } count)
            {
                result = result with { Notes = [.. result.Notes, count] };
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            result = row with { Error = ex.GetType().Name + ": " + ex.Message };
        }

        report.Add(result);
        Console.WriteLine(Report.OneLine(result));
    }
}

report.Finish();
Console.WriteLine();
Console.WriteLine(report.Markdown());
if (scenarios.Any(s => s.Kind == ScenarioKind.OpenLoop))
{
    Console.WriteLine(report.OpenLoopMarkdown());
    Console.WriteLine(report.OpenLoopTargets());
}

if (settings.Transports.Any(t => t != Transport.Tcp))
{
    Console.WriteLine(report.TransportTargets());
}

if (settings.AclRules.Exists(rules => rules > 0))
{
    Console.WriteLine(report.AccessRuleTargets());
}

if (settings.WriteDocs)
{
    report.WriteDocs(Path.Combine(paths.Root, "docs", "benchmarks.md"));
    Console.WriteLine("written to docs/benchmarks.md");
}

return 0;
