using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace IoTHub.Web.Dashboard.Live;

/// <summary>
/// A live list with row actions for admins (viewers get none): a destructive action is asked for once (<see cref="Confirming"/>
/// names its row), then runs with every action button disabled (<see cref="Busy"/>), and the page shows its outcome and the list as it is now.
/// </summary>
public abstract class ListPage : LiveComponent
{
    [CascadingParameter]
    private Task<AuthenticationState>? Authentication { get; set; }

    /// <summary>Whether the signed-in account may act (the server checks again: DashboardActions).</summary>
    protected bool IsAdmin { get; private set; }

    /// <summary>An action is running.</summary>
    protected bool Busy { get; private set; }

    /// <summary>The row whose action waits for its confirmation, by its key; null when none.</summary>
    protected object? Confirming { get; set; }

    /// <summary>What the last action did.</summary>
    protected ActionOutcome? Outcome { get; private set; }

    /// <inheritdoc />
    protected override async Task OnInitializedAsync() =>
        IsAdmin = Authentication is not null && (await Authentication).User.IsInRole(AdminRoles.Admin);

    /// <summary>Runs one action with the buttons disabled, then shows what it did and reads the list again.</summary>
    protected async Task RunAsync(Func<Task<ActionOutcome>> action)
    {
        Busy = true;
        try
        {
            Outcome = await action();
        }
        finally
        {
            Busy = false;
            Confirming = null;
            Refresh();
        }
    }
}
