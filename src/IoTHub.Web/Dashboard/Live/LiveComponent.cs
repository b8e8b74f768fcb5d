using Microsoft.AspNetCore.Components;

namespace IoTHub.Web.Dashboard.Live;

/// <summary>
/// A page that follows the <see cref="DashboardFeed"/>: when a client connects or disconnects, or a
/// sample is taken, it refreshes and renders again. A burst of events (a thousand clients connecting)
/// costs one refresh at a time per circuit, not one per event.
/// </summary>
public abstract class LiveComponent : ComponentBase, IDisposable
{
    private int _refreshPending;

    [Inject]
    internal DashboardFeed Feed { get; set; } = default!;

    /// <summary>Whether the page changes with every sample (the overview), not only with clients.</summary>
    protected virtual bool FollowsSamples => false;

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
        Feed.ClientsChanged += OnChanged;
        if (FollowsSamples)
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
