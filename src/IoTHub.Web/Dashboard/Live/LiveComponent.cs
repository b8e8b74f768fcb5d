using Microsoft.AspNetCore.Components;

namespace IoTHub.Web.Dashboard.Live;

/// <summary>What a <see cref="LiveComponent"/> refreshes on.</summary>
[Flags]
public enum LiveEvents
{
    /// <summary>A client connected or disconnected.</summary>
    Clients = 1,

    /// <summary>The feed took a sample (once a second).</summary>
    Samples = 2,
}

/// <summary>
/// A page that follows the <see cref="DashboardFeed"/>: when a client connects or disconnects, or a
/// sample is taken (as <see cref="Follows"/> says), it refreshes and renders again. A burst of events (a thousand clients connecting)
/// costs one refresh at a time per circuit, not one per event.
/// </summary>
public abstract class LiveComponent : ComponentBase, IDisposable
{
    private int _refreshPending;

    [Inject]
    internal DashboardFeed Feed { get; set; } = default!;

    /// <summary>
    /// What the page changes with: clients (the lists of clients and sessions), samples (counters that change without a client
    /// connecting: the overview, the status page, the retained messages of the Topics page), or both.
    /// </summary>
    protected virtual LiveEvents Follows => LiveEvents.Clients;

    /// <summary>Stops following the feed when the page goes away.</summary>
    public void Dispose()
    {
        Feed.ClientsChanged -= OnChanged;
        Feed.Sampled -= OnChanged;
        GC.SuppressFinalize(this);
    }

    /// <summary>Reads what the page shows; called at start and on every change.</summary>
    protected abstract void Refresh();

    /// <inheritdoc />
    protected override void OnInitialized()
    {
        Refresh();
        if (Follows.HasFlag(LiveEvents.Clients))
        {
            Feed.ClientsChanged += OnChanged;
        }

        if (Follows.HasFlag(LiveEvents.Samples))
        {
            Feed.Sampled += OnChanged;
        }
    }

    private void OnChanged()
    {
        if (Interlocked.Exchange(ref _refreshPending, 1) == 0)
        {
            _ = InvokeAsync(RefreshAndRender);
        }
    }

    private void RefreshAndRender()
    {
        Volatile.Write(ref _refreshPending, 0);
        Refresh();
        StateHasChanged();
    }
}
