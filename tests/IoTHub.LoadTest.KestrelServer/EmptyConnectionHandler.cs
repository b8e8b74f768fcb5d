using Microsoft.AspNetCore.Connections;

namespace IoTHub.LoadTest.KestrelServer;

/// <summary>Reads and discards until the client closes: a connection that costs only what Kestrel costs.</summary>
internal sealed class EmptyConnectionHandler : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }
}
