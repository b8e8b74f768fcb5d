namespace IoTHub.Web.Dashboard.Components;

/// <summary>
/// A page's changes one at a time: while one runs, <see cref="Busy"/> disables the page's action buttons and a second
/// click (a double click) does nothing.
/// </summary>
internal sealed class ActionGate
{
    public bool Busy { get; private set; }

    /// <summary>Runs <paramref name="action"/> unless another runs, then <paramref name="reload"/> (to show the list as it is now).</summary>
    public async Task RunAsync(Func<Task> action, Func<Task> reload)
    {
        if (Busy)
        {
            return;
        }

        Busy = true;
        try
        {
            await action();
        }
        finally
        {
            Busy = false;
        }

        await reload();
    }
}
