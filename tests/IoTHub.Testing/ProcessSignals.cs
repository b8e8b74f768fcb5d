using System.Runtime.InteropServices;

namespace IoTHub.Testing;

/// <summary>Freezes and thaws a process by its id (SIGSTOP, SIGCONT), for tests of a stuck client or a frozen node.</summary>
public static partial class ProcessSignals
{
    private const int SignalContinue = 18; // SIGCONT on Linux (x86-64 and arm64)
    private const int SignalStop = 19; // SIGSTOP on Linux (x86-64 and arm64)

    /// <summary>
    /// SIGSTOP, returning once every thread of the process is stopped: the signal is only sent by kill(2), and a thread
    /// running on another core at that moment goes on until it next enters the kernel (an LDAP server once answered a
    /// bind sent after kill had returned).
    /// </summary>
    public static Task SuspendAsync(int processId)
    {
        Send(processId, SignalStop);
        return Poll.UntilAsync(() => Task.FromResult(AllThreadsStopped(processId)), TimeSpan.FromSeconds(5),
            $"process {processId} did not stop within 5 s of SIGSTOP");
    }

    public static void Resume(int processId) => Send(processId, SignalContinue);

    /// <summary>SIGCONT without a check, for clean-up: a stopped process that was killed meanwhile is gone, which is fine.</summary>
    public static void TryResume(int processId) => _ = SysKill(processId, SignalContinue);

    /// <summary>Whether every thread is in state T (stopped) or t (stopped by a tracer), from /proc/PID/task/TID/stat.</summary>
    private static bool AllThreadsStopped(int processId)
    {
        foreach (var task in Directory.EnumerateDirectories($"/proc/{processId}/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue; // a thread that ended meanwhile
            }

            // "tid (comm) S ...": the name may hold spaces and parentheses, the state follows the last ')'.
            var state = stat[stat.LastIndexOf(')') + 2];
            if (state is not ('T' or 't'))
            {
                return false;
            }
        }

        return true;
    }

    private static void Send(int processId, int signal)
    {
        if (SysKill(processId, signal) != 0)
        {
            throw new InvalidOperationException($"kill({processId}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
