using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>
/// The built host (IoTHub.Web.dll, copied next to the tests) running as a real child process, with
/// its stdout and stderr collected. Waits are signalled by output or exit and bounded by a timeout.
/// Dispose kills it if a test left it running.
/// </summary>
internal sealed partial class HostProcess : IDisposable
{
    /// <summary>How long a step of the process may take: a start on a busy 2-core machine took more than 30 s.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly Lock _lock = new();
    private readonly StringBuilder _output = new();
    private readonly ChangeSignal _changed = new();

    private HostProcess(Process process) => _process = process;

    public string Output
    {
        get
        {
            lock (_lock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the host in <paramref name="workingDirectory"/>, which becomes its content root.</summary>
    public static HostProcess Start(string workingDirectory, params string[] arguments) => Start(workingDirectory, new Dictionary<string, string>(), arguments);

    /// <summary>Starts the host with <paramref name="environment"/> added to this process's environment.</summary>
    public static HostProcess Start(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "IoTHub.Web.dll"));
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var host = new HostProcess(process);
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.Exited += (_, _) => host._changed.Raise();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Waits for an output line containing <paramref name="text"/> and returns it.</summary>
    public async Task<string> WaitForLineAsync(string text)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        while (true)
        {
            var changed = _changed.Next;
            lock (_lock)
            {
                string? line = _output.ToString().Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
                if (line is not null)
                {
                    return line.TrimEnd('\r');
                }
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The host exited with {_process.ExitCode} before printing '{text}'. Output:\n{Output}");
            }

            try
            {
                await changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No line with '{text}' within {Timeout}. Output:\n{Output}");
            }
        }
    }

    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            // Also waits until both output streams are read to their end.
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The host did not exit within {Timeout}. Output:\n{Output}");
        }

        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>SIGTERM, as a service manager or `docker stop` sends (Process.Kill sends SIGKILL).</summary>
    public void Terminate()
    {
        using Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Waits for the `MQTT listening on` line of the default broker and returns the endpoint it names.</summary>
    public async Task<IPEndPoint> WaitForMqttEndpointAsync() =>
        IPEndPoint.Parse(MqttListening().Match(await WaitForLineAsync("MQTT listening on ")).Groups[1].Value);

    /// <summary>SIGKILL: the process dies at once, as in a crash or a power loss of the process.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await WaitForExitAsync();
    }

    /// <summary>SIGSTOP: the process freezes (a hung node, a VM paused), returning once every thread of it is stopped.</summary>
    public Task SuspendAsync() => ProcessSignals.SuspendAsync(_process.Id);

    public void Resume() => ProcessSignals.Resume(_process.Id);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            // SIGKILL ends a stopped process too; SIGCONT after it is harmless and keeps nothing frozen.
            ProcessSignals.TryResume(_process.Id);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    // The muxer that runs these tests (testhost runs under `dotnet`), else the one on PATH.
    private static string DotnetHost() =>
        Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";


    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            _output.Append(line).Append('\n');
        }

        _changed.Raise();
    }


    [GeneratedRegex(@"MQTT listening on tcp://(\S+)")]
    private static partial Regex MqttListening();
}
