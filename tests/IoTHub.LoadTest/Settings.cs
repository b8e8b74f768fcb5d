using System.Globalization;

namespace IoTHub.LoadTest;

/// <summary>Command-line options (README.md lists them).</summary>
internal sealed class Settings
{
    public List<string> Scenarios { get; } = [];

    public List<BrokerKind> Brokers { get; } = [BrokerKind.IoTHub, BrokerKind.Mosquitto, BrokerKind.MqttNet, BrokerKind.Kestrel];

    /// <summary>The transports each scenario runs over, in turn (issue 16); tcp alone by default.</summary>
    public List<Transport> Transports { get; } = [Transport.Tcp];

    /// <summary>
    /// The acl_file rule counts each point-to-point scenario runs with, in turn (issue 17): 0 is the row without access
    /// rules (the default, alone), any other count a file of that many rules both IoTHub and Mosquitto read (AccessRules).
    /// </summary>
    public List<int> AclRules { get; } = [0];

    public double DurationSeconds { get; set; } = 5;

    /// <summary>
    /// The shortest warm-up; it then lasts until the broker's CPU per delivery has settled (Runner.WarmUpAsync).
    /// 20 s: the settling test alone was fooled by plateaus while tiered compilation was still pending
    /// (fanout-1000 "settled" after 4 s at 0.73 M deliveries/s; after 30 s it ran at 1.9 M).
    /// </summary>
    public double WarmupSeconds { get; set; } = 20;

    /// <summary>The longest warm-up, for a broker whose CPU per delivery never settles.</summary>
    public double MaxWarmupSeconds { get; set; } = 60;

    /// <summary>Seconds to keep idle connections open after measuring, to attach a profiler or dotnet-gcdump.</summary>
    public double HoldSeconds { get; set; }

    public int Window { get; set; } = 100;

    public int IdleConnections { get; set; } = 10_000;

    /// <summary>Seconds after the last idle connect at which RSS per connection is read again (issue 14, defect 8: it grew for two minutes).</summary>
    public List<double> IdleSamples { get; } = [];

    public int Connects { get; set; } = 5_000;

    public bool WriteDocs { get; set; }

    public bool Pin { get; set; } = true;

    public bool All { get; set; }

    /// <summary>Issue 24's start time on these providers (<c>sqlite</c>, <c>postgres</c>) instead of the scenarios (<see cref="StartTime"/>).</summary>
    public List<string> StartTimeProviders { get; } = [];

    /// <summary>Minutes of issue 24's soak (<see cref="Soak"/>) instead of the scenarios; 0: no soak.</summary>
    public double SoakMinutes { get; set; }

    /// <summary>Issue 20's failover time with these signals (<c>kill</c>, <c>stop</c>) instead of the scenarios (<see cref="Failover"/>).</summary>
    public List<string> FailoverSignals { get; } = [];

    /// <summary>
    /// Where each broker's output is kept, one file per process with each line's UTC time (IoTHub's cluster and broker events at
    /// information level); null: only warnings are kept, in memory.
    /// </summary>
    public string? NodeLogs { get; set; }

    /// <summary>Starts of the host per provider in <see cref="StartTime"/>, and runs per signal in <see cref="Failover"/>.</summary>
    public int StartRuns { get; set; } = 3;

    public static Settings? Parse(string[] args)
    {
        var settings = new Settings();
        var brokersGiven = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException(args[i] + " needs a value");
            switch (args[i])
            {
                case "--all":
                    settings.All = true;
                    settings.WriteDocs = true;
                    break;
                case "--scenarios":
                    settings.Scenarios.AddRange(Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                    break;
                case "--brokers":
                    brokersGiven = true;
                    settings.Brokers.Clear();
                    foreach (var name in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        settings.Brokers.Add(name.ToLowerInvariant() switch
                        {
                            "iothub" => BrokerKind.IoTHub,
                            "mosquitto" => BrokerKind.Mosquitto,
                            "mqttnet" => BrokerKind.MqttNet,
                            "kestrel" => BrokerKind.Kestrel,
                            _ => throw new ArgumentException("unknown broker " + name),
                        });
                    }

                    break;
                case "--transport":
                    settings.Transports.Clear();
                    foreach (var name in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        var transport = TransportNames.Parse(name);
                        if (!settings.Transports.Contains(transport))
                        {
                            settings.Transports.Add(transport);
                        }
                    }

                    break;
                case "--acl-rules":
                    settings.AclRules.Clear();
                    foreach (var count in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        var rules = int.Parse(count, CultureInfo.InvariantCulture);
                        if (rules is < 0 or > AccessRules.MostRules)
                        {
                            throw new ArgumentException($"--acl-rules: {count} is not 0 to {AccessRules.MostRules}");
                        }

                        if (!settings.AclRules.Contains(rules))
                        {
                            settings.AclRules.Add(rules);
                        }
                    }

                    break;
                case "--duration":
                    settings.DurationSeconds = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--warmup":
                    settings.WarmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--max-warmup":
                    settings.MaxWarmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--hold":
                    settings.HoldSeconds = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--window":
                    settings.Window = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--idle":
                    settings.IdleConnections = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--idle-samples":
                    settings.IdleSamples.AddRange(Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(x => double.Parse(x, CultureInfo.InvariantCulture)).Order());
                    break;
                case "--connects":
                    settings.Connects = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--docs":
                    settings.WriteDocs = true;
                    break;
                case "--no-docs":
                    settings.WriteDocs = false;
                    break;
                case "--start-time":
                    foreach (var name in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        settings.StartTimeProviders.Add(name is "sqlite" or "postgres" ? name : throw new ArgumentException("--start-time: sqlite or postgres, not " + name));
                    }

                    break;
                case "--soak":
                    settings.SoakMinutes = double.Parse(Next(), CultureInfo.InvariantCulture);
                    if (settings.SoakMinutes <= 0)
                    {
                        throw new ArgumentException("--soak: minutes above 0");
                    }

                    break;
                case "--failover":
                    foreach (var name in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        settings.FailoverSignals.Add(name is "kill" or "stop" ? name : throw new ArgumentException("--failover: kill or stop, not " + name));
                    }

                    break;
                case "--runs":
                    settings.StartRuns = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--no-pin":
                    settings.Pin = false;
                    break;
                case "--node-logs":
                    settings.NodeLogs = Directory.CreateDirectory(Next()).FullName;
                    break;
                default:
                    throw new ArgumentException("unknown option " + args[i]);
            }
        }

        if (settings.SoakMinutes > 0 && !brokersGiven)
        {
            // The soak is IoTHub's; other brokers only when asked for.
            settings.Brokers.RemoveAll(kind => kind != BrokerKind.IoTHub);
        }

        return settings.All || settings.Scenarios.Count > 0 || settings.StartTimeProviders.Count > 0 || settings.SoakMinutes > 0
            || settings.FailoverSignals.Count > 0 ? settings : null;
    }
}
