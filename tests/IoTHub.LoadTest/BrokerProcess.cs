using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace IoTHub.LoadTest;

/// <summary>The brokers the tool can measure. Kestrel is the bare-Kestrel baseline, only for idle connections.</summary>
internal enum BrokerKind
{
    IoTHub,
    Mosquitto,
    MqttNet,
    Kestrel,
}

/// <summary>
/// One broker process, pinned to CPU 0 with taskset, on a free loopback port. Its CPU time and RSS are
/// read from /proc, so they do not depend on the load tool.
/// </summary>
internal sealed partial class BrokerProcess : IAsyncDisposable
{
    private static readonly double TicksPerSecond = ReadClockTicks();
    private static readonly List<BrokerProcess> Running = [];

    /// <summary>Where each broker's output is kept (<see cref="Settings.NodeLogs"/>); null: only its warnings, in memory.</summary>
    public static string? LogFolder { get; set; }

    private readonly Process _process;
    private readonly string _tempDirectory;
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _httpPort = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<string> _problems = new();

    // A .NET console logger's entry is a level line ("warn: Category[id]") and then its indented message line.
    private string? _problemHeader;

    private BrokerProcess(BrokerKind kind, int port, Process process, string tempDirectory)
    {
        Kind = kind;
        Port = port;
        _process = process;
        _tempDirectory = tempDirectory;
    }

    public BrokerKind Kind { get; }

    public int Port { get; }

    public int Pid => _process.Id;

    /// <summary>
    /// What the broker logged at warning level or above (.NET's console logger: <c>warn:</c>, <c>fail:</c>, <c>crit:</c>, each with
    /// its message) and every line it wrote to stderr, in order.
    /// </summary>
    public IReadOnlyCollection<string> Problems => _problems;

    public static string Name(BrokerKind kind) => kind switch
    {
        BrokerKind.IoTHub => "IoTHub",
        BrokerKind.Mosquitto => "Mosquitto",
        BrokerKind.MqttNet => "MQTTnet",
        _ => "Kestrel (bare)",
    };

    /// <summary>
    /// Starts a broker and waits until it listens. The free port is found by binding port 0 and letting
    /// it go, so another socket can take it before the broker binds it ("address already in use"): a
    /// broker that exits before listening gets a new port, up to three tries in all.
    /// <paramref name="queueLimit"/>: the messages each session may queue, set explicitly on every broker
    /// (null: each broker's own setting as in the throughput rows). <paramref name="passwordFile"/>: a
    /// Mosquitto password file both IoTHub and Mosquitto check every CONNECT against, anonymous clients refused.
    /// <paramref name="transport"/>: what the broker's one measured listener speaks, at <see cref="Port"/>; tls and wss
    /// serve <paramref name="certificates"/>. <paramref name="aclFile"/>: a Mosquitto acl_file IoTHub and Mosquitto both
    /// enforce (the MQTTnet server has none). <paramref name="authenticator"/>: IoTHub's <c>Security:Authenticators:0</c>
    /// keys, pointing it at a service outside the broker (<see cref="IAuthenticationBackend"/>). <paramref name="extraArguments"/>:
    /// more IoTHub options, after the others (a later <c>--data-dir</c> wins).
    /// </summary>
    public static async Task<BrokerProcess> StartAsync(BrokerKind kind, Paths paths, string cpu, Transport transport, TestCertificates? certificates,
        int? queueLimit = null, string? passwordFile = null, bool databaseUsers = false, string? aclFile = null, IReadOnlyDictionary<string, string>? authenticator = null,
        IReadOnlyList<string>? extraArguments = null)
    {
        const int Tries = 3;
        for (var attempt = 1; ; attempt++)
        {
            var broker = await StartOnceAsync(kind, paths, cpu, transport, certificates, queueLimit, passwordFile, databaseUsers, aclFile, authenticator,
                extraArguments).ConfigureAwait(false);
            try
            {
                await broker.WaitUntilListeningAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                return broker;
            }
            catch (InvalidOperationException) when (attempt < Tries && broker.HasExited)
            {
                await broker.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<BrokerProcess> StartOnceAsync(BrokerKind kind, Paths paths, string cpu, Transport transport, TestCertificates? certificates,
        int? queueLimit, string? passwordFile, bool databaseUsers, string? aclFile, IReadOnlyDictionary<string, string>? authenticator,
        IReadOnlyList<string>? extraArguments)
    {
        if (transport.UsesTls() && certificates is null)
        {
            throw new ArgumentNullException(nameof(certificates), transport.Name() + " needs the test certificates");
        }

        var port = FreePort();
        var portText = port.ToString(CultureInfo.InvariantCulture);
        var queueText = queueLimit?.ToString(CultureInfo.InvariantCulture);
        var temp = Directory.CreateTempSubdirectory("iothub-load-").FullName;
        var arguments = new List<string> { "-c", cpu };
        switch (kind)
        {
            case BrokerKind.IoTHub:
                arguments.AddRange([
                    "dotnet", paths.IoTHubDll, "--mqtt-port", transport == Transport.Tcp ? portText : "0", "--http-port", "0",
                    "--data-dir", temp, "--Logging:LogLevel:Default=Warning",
                    // Its "MQTT listening on" lines (one per listener, all at once) say it is ready; the rest stays at warnings.
                    "--Logging:LogLevel:IoTHub.Web.Hosting=Information",
                ]);
                if (LogFolder is not null)
                {
                    // Kept for reading afterwards: what the cluster did and when (a failover's verdict, adoption, purge), and the CONNECTs.
                    arguments.AddRange(["--Logging:LogLevel:IoTHub.Cluster=Information", "--Logging:LogLevel:IoTHub.Broker=Information"]);
                }
                if (transport != Transport.Tcp)
                {
                    arguments.AddRange(IoTHubListener(transport, port, certificates));
                }

                if (queueText is not null)
                {
                    arguments.Add("--Mqtt:MaximumQueuedMessages=" + queueText);
                }

                if (passwordFile is not null)
                {
                    arguments.Add("--Security:PasswordFile=" + passwordFile);
                }

                if (aclFile is not null)
                {
                    // Security:AclDefault stays unset: deny what the file does not grant, as Mosquitto does.
                    arguments.Add("--Security:AclFile=" + aclFile);
                }

                if (databaseUsers)
                {
                    // Users created through the admin API (DatabaseUsers), logged in as the first admin.
                    arguments.Add("--Security:Authenticators:0:Type=Database");
                }

                if (authenticator is not null)
                {
                    // The service outside the broker the scenario asks (IAuthenticationBackend).
                    arguments.AddRange(authenticator.Select(setting => $"--Security:Authenticators:0:{setting.Key}={setting.Value}"));
                }

                arguments.AddRange(extraArguments ?? []);
                break;
            case BrokerKind.Mosquitto:
                var config = Path.Combine(temp, "mosquitto.conf");
                // Defaults except: loopback port, no persistence, a queue large enough for the closed loop (unless
                // the scenario sets one), the scenario's password file or acl_file, and
                // TCP_NODELAY as IoTHub (Kestrel) and MQTTnet set it. The log keeps only the "information" type:
                // the start and stop lines ("... running" says it listens), not the per-connection notices, as
                // IoTHub logs warnings only. stdbuf makes its stdout line-buffered, so the line comes at once.
                var authentication = passwordFile is null ? "allow_anonymous true" : $"allow_anonymous false\npassword_file {passwordFile}";
                await File.WriteAllTextAsync(config, $"""
                    {MosquittoListener(transport, port, certificates)}
                    {authentication}
                    {(aclFile is null ? "" : "acl_file " + aclFile)}
                    persistence false
                    max_queued_messages {queueText ?? "100000"}
                    set_tcp_nodelay true
                    log_dest stdout
                    log_type information

                    """).ConfigureAwait(false);
                arguments.AddRange(["stdbuf", "-oL", "/usr/sbin/mosquitto", "-c", config]);
                break;
            case BrokerKind.MqttNet:
                arguments.AddRange(["dotnet", paths.MqttNetServerDll, portText, "--transport", transport.Name()]);
                if (queueText is not null)
                {
                    arguments.AddRange(["--max-pending", queueText]);
                }

                if (transport.UsesTls())
                {
                    arguments.AddRange(["--certificate", certificates!.CertificatePath, "--key", certificates.KeyPath]);
                }

                break;
            default:
                if (transport != Transport.Tcp)
                {
                    throw new ArgumentException("the bare Kestrel app listens on tcp only", nameof(transport));
                }

                arguments.AddRange(["dotnet", paths.KestrelServerDll, portText]);
                break;
        }

        var start = new ProcessStartInfo("taskset")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_gcServer"] = "0";
        start.Environment[DatabaseUsers.AdminPasswordVariable] = DatabaseUsers.AdminPassword;
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + kind);
        var broker = new BrokerProcess(kind, port, process, temp);
        var log = LogFolder is null ? null : new StreamWriter(System.IO.Path.Combine(LogFolder, $"{Name(kind)}-{port.ToString(CultureInfo.InvariantCulture)}.log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { } line)
            {
                log?.Dispose();
                return;
            }

            log?.WriteLine(DateTime.UtcNow.ToString("HH:mm:ss.fff ", CultureInfo.InvariantCulture) + line);
            broker.CollectProblem(line);
            if (line.Contains(ReadyLine(kind), StringComparison.Ordinal))
            {
                broker._listening.TrySetResult();
            }
            else if (HttpListening().Match(line) is { Success: true } http)
            {
                broker._httpPort.TrySetResult(int.Parse(http.Groups[1].ValueSpan, CultureInfo.InvariantCulture));
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (!string.IsNullOrEmpty(e.Data))
            {
                broker._problems.Enqueue("stderr: " + e.Data);
                Console.Error.WriteLine($"  [{Name(kind)}] {e.Data}");
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (Running)
        {
            Running.Add(broker);
        }

        return broker;
    }

    /// <summary>
    /// IoTHub's measured listener when it is not its default tcp one (which then takes a free port, unused), named
    /// <c>bench</c>: <c>tls://127.0.0.1:p</c>, <c>ws://127.0.0.1:p/mqtt</c> or <c>wss://127.0.0.1:p/mqtt</c>, TLS 1.3 only.
    /// </summary>
    private static IEnumerable<string> IoTHubListener(Transport transport, int port, TestCertificates? certificates)
    {
        const string Listener = "--Mqtt:Listeners:bench:";
        var path = transport.UsesWebSocket() ? WebSocketUpgrade.Path : "";
        yield return string.Create(CultureInfo.InvariantCulture, $"{Listener}Url={transport.Name()}://127.0.0.1:{port}{path}");
        if (transport.UsesTls())
        {
            yield return Listener + "Certificate=" + certificates!.CertificatePath;
            yield return Listener + "CertificateKey=" + certificates.KeyPath;
            yield return Listener + "TlsProtocols=Tls13";
        }
    }

    /// <summary>
    /// Mosquitto's measured listener: websockets (libwebsockets, any path) for ws and wss, the certificate and TLS 1.3
    /// only for tls and wss. Mosquitto 2.0.11 exits with "Unable to start any listening sockets" when all its listeners
    /// are websockets ones, so ws and wss get an unused tcp listener first; its websockets listener binds every
    /// interface whatever the address given (the clients still connect to 127.0.0.1).
    /// </summary>
    private static string MosquittoListener(Transport transport, int port, TestCertificates? certificates)
    {
        var lines = new List<string>();
        if (transport.UsesWebSocket())
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"listener {FreePort()} 127.0.0.1"));
        }

        lines.Add(string.Create(CultureInfo.InvariantCulture, $"listener {port} 127.0.0.1"));
        if (transport.UsesWebSocket())
        {
            lines.Add("protocol websockets");
        }

        if (transport.UsesTls())
        {
            lines.AddRange(["certfile " + certificates!.CertificatePath, "keyfile " + certificates.KeyPath, "tls_version tlsv1.3"]);
        }

        return string.Join('\n', lines);
    }

    /// <summary>
    /// Lets Mosquitto read <paramref name="files"/> of <paramref name="folder"/>, a temp folder only its owner may enter:
    /// started as root, Mosquitto reads its password, certificate and acl files after dropping root for its own user.
    /// </summary>
    public static void LetMosquittoRead(string folder, params string[] files)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        foreach (var file in files)
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        }
    }

    /// <summary>Keeps a stdout line of a warning or worse, joined with the message line that follows it (called on one thread, in order).</summary>
    private void CollectProblem(string line)
    {
        if (_problemHeader is { } header)
        {
            _problemHeader = null;
            var message = line.StartsWith(' ') ? " " + line.Trim() : "";
            _problems.Enqueue(header + message);
            if (message.Length > 0)
            {
                return;
            }
        }

        if (line.StartsWith("warn:", StringComparison.Ordinal) || line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal))
        {
            _problemHeader = line;
        }
    }

    /// <summary>Kills whatever is still running (Ctrl+C, a crash of the tool).</summary>
    public static void KillAll()
    {
        lock (Running)
        {
            foreach (var broker in Running)
            {
                try
                {
                    broker._process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
            }
        }
    }

    /// <summary>User + system CPU time of the broker so far, in seconds (/proc/PID/stat fields 14 and 15).</summary>
    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state): utime is field 14, stime field 15.
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / TicksPerSecond;
    }

    /// <summary>
    /// The RSS once it stops moving: no event says it is final, so it is sampled every 50 ms until the last
    /// ten samples lie within 64 KB of each other (at most 10 s).
    /// </summary>
    public async Task<long> SteadyRssAsync()
    {
        const int Samples = 10;
        const long Tolerance = 64 * 1024;
        var recent = new Queue<long>(Samples);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (recent.Count == Samples)
            {
                recent.Dequeue();
            }

            recent.Enqueue(RssBytes());
            if ((recent.Count == Samples && recent.Max() - recent.Min() <= Tolerance) || clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                return recent.Last();
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50)).ConfigureAwait(false);
        }
    }

    /// <summary>Resident set size in bytes (VmRSS of /proc/PID/status).</summary>
    public long RssBytes() => StatusBytes("VmRSS:");

    /// <summary>
    /// The resident set by kind (RssAnon, RssFile, RssShmem of /proc/PID/status): anonymous memory (the GC's heap, thread
    /// stacks, the runtime's and native libraries' allocations), mapped files (the assemblies, native libraries) and
    /// shared memory (for .NET, the JIT's code, mapped twice for write-xor-execute).
    /// </summary>
    public (long Anonymous, long File, long Shared) RssByKind() => (StatusBytes("RssAnon:"), StatusBytes("RssFile:"), StatusBytes("RssShmem:"));

    private long StatusBytes(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    public bool HasExited => _process.HasExited;

    public const int SigKill = 9;
    public const int SigStop = 19;

    /// <summary>Sends the process <paramref name="signal"/> (<see cref="SigKill"/>, <see cref="SigStop"/>).</summary>
    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, 15); // SIGTERM: a clean shutdown
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        lock (Running)
        {
            Running.Remove(this);
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_tempDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static double ReadClockTicks()
    {
        try
        {
            using var getconf = Process.Start(new ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true })!;
            var text = getconf.StandardOutput.ReadToEnd().Trim();
            getconf.WaitForExit();
            return double.Parse(text, CultureInfo.InvariantCulture);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return 100;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>IoTHub's HTTP port (its admin API), from its "HTTP listening on" line.</summary>
    public Task<int> HttpPortAsync() => _httpPort.Task.WaitAsync(TimeSpan.FromSeconds(60));

    [GeneratedRegex(@"HTTP listening on http://[^ ]*:(\d+)")]
    private static partial Regex HttpListening();

    private static string ReadyLine(BrokerKind kind) => kind switch
    {
        BrokerKind.IoTHub => "MQTT listening on ",
        BrokerKind.Mosquitto => " running",
        BrokerKind.MqttNet => "MQTTnet server listening on ",
        _ => "Kestrel listening on ",
    };

    private async Task WaitUntilListeningAsync(TimeSpan timeout)
    {
        var exited = _process.WaitForExitAsync();
        Task first;
        try
        {
            first = await Task.WhenAny(_listening.Task, exited).WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name(Kind)} did not say it listens on port {Port} within {timeout}");
        }

        if (first == exited && !_listening.Task.IsCompleted)
        {
            throw new InvalidOperationException($"{Name(Kind)} exited with {_process.ExitCode} before listening");
        }
    }
}

/// <summary>Where the repository and the programs the tool starts are.</summary>
internal sealed record Paths(string Root, string IoTHubDll, string MqttNetServerDll, string KestrelServerDll)
{
    public static Paths Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "IoTHub.Web.sln")))
        {
            directory = directory.Parent;
        }

        if (directory is null)
        {
            throw new InvalidOperationException("run the tool from inside the repository (IoTHub.Web.sln not found above " + AppContext.BaseDirectory + ")");
        }

        var root = directory.FullName;
        var configuration = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        string Dll(string folder, string name) => Path.Combine(root, folder, name, "bin", configuration, "net10.0", name + ".dll");
        return new Paths(
            root,
            Dll("src", "IoTHub.Web"),
            Dll("tests", "IoTHub.LoadTest.MqttNetServer"),
            Dll("tests", "IoTHub.LoadTest.KestrelServer"));
    }
}
