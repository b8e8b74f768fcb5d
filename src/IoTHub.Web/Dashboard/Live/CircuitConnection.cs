using Microsoft.AspNetCore.Components.Server.Circuits;

namespace IoTHub.Web.Dashboard.Live;

/// <summary>
/// Whether the circuit's browser is still connected. A closed tab does not always tell the server (its unload beacon
/// is not sent when the browser is killed or busy), and the framework then keeps the circuit, and every page of it,
/// for minutes in case the browser comes back: pages that hold something in the broker (a topic watch) let it go as
/// soon as the connection is down.
/// </summary>
internal sealed class CircuitConnection : CircuitHandler
{
    /// <summary>Raised on the circuit's connection going down (not on the circuit's own thread).</summary>
    public event Action? Down;

    public override Task OnConnectionDownAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        Down?.Invoke();
        return Task.CompletedTask;
    }
}
