using System.Diagnostics;
using System.Text;
using Xunit;

namespace IoTHub.Testing;

/// <summary>
/// A client program (mosquitto_sub, a paho script...) running as a child process. Its stdout lines are
/// collected; waits are signalled by a new line or the exit and bounded by a timeout. Dispose kills it
/// (and its children) if it still runs, stopped or not, so no test leaves a process behind.
/// </summary>
public sealed partial class ChildProcess : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);


    private readonly Process _process;
    private readonly string _command;
    private readonly Lock _lock = new();
    private readonly List<string> _lines = [];
    private readonly StringBuilder _errors = new();
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorsClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ChangeSignal _changed = new();

    private ChildProcess(Process process, string command)
    {
        _process = process;
        _command = command;
    }

    /// <summary>The stdout lines so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lock)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/>; <paramref name="input"/>, when given, is written to its stdin, which is then closed.</summary>
    public static ChildProcess Start(string fileName, IEnumerable<string> arguments, string? input = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var child = new ChildProcess(process, fileName + " " + string.Join(' ', start.ArgumentList));
        process.OutputDataReceived += (_, e) => child.OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnError(e.Data);
        process.Exited += (_, _) => child._changed.Raise();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (input is not null)
        {
            process.StandardInput.Write(input);
        }

        process.StandardInput.Close();
        return child;
    }

    /// <summary>Waits until <paramref name="count"/> stdout lines match.</summary>
    public async Task WaitForLinesAsync(Func<string, bool> match, int count, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? Timeout);
        while (true)
        {
            var changed = _changed.Next;
            lock (_lock)
            {
                if (_lines.Count(match) >= count)
                {
                    return;
                }
            }

            if (_process.HasExited && _outputClosed.Task.IsCompleted)
            {
                await _errorsClosed.Task.WaitAsync(Timeout);
                throw new InvalidOperationException($"exited ({_process.ExitCode}) before {count} expected lines. {Describe()}");
            }

            try
            {
                await changed.WaitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"not {count} expected lines within {timeout ?? Timeout}. {Describe()}");
            }
        }
    }

    public Task WaitForLineAsync(Func<string, bool> match, TimeSpan? timeout = null) => WaitForLinesAsync(match, 1, timeout);

    public Task WaitForLineAsync(string text, TimeSpan? timeout = null) =>
        WaitForLinesAsync(line => line.Contains(text, StringComparison.Ordinal), 1, timeout);

    /// <summary>Waits for the process to exit and its output to be read; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        try
        {
            await Task.WhenAll(_process.WaitForExitAsync(), _outputClosed.Task, _errorsClosed.Task).WaitAsync(timeout ?? Timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"still running after {timeout ?? Timeout}. {Describe()}");
        }

        return _process.ExitCode;
    }

    /// <summary>Waits for a successful exit; a failure carries the output in its message.</summary>
    public async Task WaitForSuccessAsync(TimeSpan? timeout = null)
    {
        var code = await WaitForExitAsync(timeout);
        Assert.True(code == 0, $"exit code {code}. {Describe()}");
    }

    /// <summary>
    /// SIGSTOP: the process stops dead, reading nothing from its sockets, until resumed or killed. Returns once every
    /// thread of it is stopped: the signal is only sent by kill(2), and a thread running on another core at that moment
    /// goes on until it next enters the kernel (an LDAP server once answered a bind sent after kill had returned).
    /// </summary>
    public Task SuspendAsync() => ProcessSignals.SuspendAsync(_process.Id);

    public void Resume() => ProcessSignals.Resume(_process.Id);

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    public string Describe()
    {
        lock (_lock)
        {
            return $"Command: {_command}\nstdout:\n{string.Join('\n', _lines)}\nstderr:\n{_errors}";
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                // SIGKILL ends a stopped process too; SIGCONT after it is harmless and keeps nothing frozen.
                _process.Kill(entireProcessTree: true);
                ProcessSignals.TryResume(_process.Id);
                _process.WaitForExit(5_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            _outputClosed.TrySetResult();
        }
        else
        {
            lock (_lock)
            {
                _lines.Add(line);
            }
        }

        _changed.Raise();
    }

    private void OnError(string? line)
    {
        if (line is null)
        {
            _errorsClosed.TrySetResult();
            return;
        }

        lock (_lock)
        {
            _errors.AppendLine(line);
        }
    }
}
