namespace IoTHub.Testing;

/// <summary>
/// Wakes waiters each time something they watch changes (an output line arrives, a process exits). A
/// waiter takes <see cref="Next"/> before it checks its condition, so a change after the check is never missed.
/// </summary>
public sealed class ChangeSignal
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _next = Create();

    /// <summary>Completes at the next <see cref="Raise"/>.</summary>
    public Task Next
    {
        get
        {
            lock (_lock)
            {
                return _next.Task;
            }
        }
    }

    public void Raise()
    {
        TaskCompletionSource raised;
        lock (_lock)
        {
            raised = _next;
            _next = Create();
        }

        raised.TrySetResult();
    }

    private static TaskCompletionSource Create() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
