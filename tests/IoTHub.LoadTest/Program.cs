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
        usage: dotnet run -c Release --project tests/IoTHub.LoadTest -- (--all | --scenarios a,b,...) [options]
          --all                every scenario on every broker, and write docs/benchmarks.md
          --scenarios a,b      some scenarios (names below)
          --brokers a,b        iothub,mosquitto,mqttnet,kestrel (default: all; kestrel runs only idle-*)
          --duration s         measured seconds per scenario and broker, and per open-loop step (default 5)
          --warmup s           at least s seconds of load before measuring, until the broker's CPU per
                               message has settled (default 20; open-loop scenarios have their own)
          --max-warmup s       at most s seconds of warm-up (default 60)
          --window n           messages a publisher may be ahead of delivery (default 100)
          --idle n             idle connections (default 10000)
          --hold s             keep the idle connections open s seconds after measuring (to profile)
          --idle-samples a,b   read RSS per idle connection again a, b, ... seconds after the last connect
          --connects n         connects for connect-rate (default 5000, at most 20000)
          --docs | --no-docs   write (or not) the table to docs/benchmarks.md
          --no-pin             do not pin brokers to CPU 0 and the tool to CPU 1
        scenarios:
        """);
    foreach (var s in Scenario.All(new Settings()))
    {
        Console.WriteLine($"  {s.Name,-18} {s.Description}");
    }

    return 2;
}

var paths = Paths.Find();
var scenarios = Scenario.All(settings).Where(s => settings.All || settings.Scenarios.Contains(s.Name)).ToList();
if (scenarios.Count == 0)
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

// The authentication scenarios' password file, written once by mosquitto_passwd for IoTHub and Mosquitto.
var credentials = scenarios.Any(s => s.Authentication != ConnectAuthentication.None) ? await Credentials.CreateAsync().ConfigureAwait(false) : null;
var report = new Report(settings, args);
Console.WriteLine($"load average at start: {Report.LoadAverage()}");
foreach (var scenario in scenarios)
{
    foreach (var kind in settings.Brokers)
    {
        if (kind == BrokerKind.Kestrel && scenario.Kind != ScenarioKind.Idle)
        {
            continue;
        }

        // The MQTTnet server has no password-file authentication of its own to compare.
        if (kind is BrokerKind.MqttNet or BrokerKind.Kestrel && scenario.Authentication != ConnectAuthentication.None)
        {
            continue;
        }

        if (scenario.Kind is ScenarioKind.Idle or ScenarioKind.ConnectRate)
        {
            await TimeWait.WaitUntilFewAsync().ConfigureAwait(false);
        }

        Console.Write($"{scenario.Name,-16} {BrokerProcess.Name(kind),-14} ");
        Result result;
        try
        {
            // The open-loop scenarios compare the brokers at one queue limit per session (OpenLoopPlan).
            var queueLimit = scenario.Plan is null ? (int?)null : OpenLoopPlan.QueueLimit;
            var passwordFile = scenario.Authentication == ConnectAuthentication.None ? null : credentials!.PasswordFile;
            await using var broker = await BrokerProcess.StartAsync(kind, paths, brokerCpu, queueLimit, passwordFile).ConfigureAwait(false);
            var runnerCredentials = passwordFile is null ? null : credentials;
            result = await new Runner(broker, settings, runnerCredentials).RunAsync(scenario).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            result = new Result(scenario, kind) { Error = ex.GetType().Name + ": " + ex.Message };
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
if (settings.WriteDocs)
{
    report.WriteDocs(Path.Combine(paths.Root, "docs", "benchmarks.md"));
    Console.WriteLine("written to docs/benchmarks.md");
}

return 0;
