using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IoTHub.Web.Tests;

/// <summary>
/// The tests' host ends only once the host's services are all disposed, also when Program's own shutdown is the one
/// disposing them (dotnet/aspnetcore#40271), so what a fixture deletes next (the data directory) is no longer in use.
/// </summary>
public sealed class ProgramFactoryTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Dispose_returns_once_Program_s_own_shutdown_has_disposed_the_services()
    {
        using var temp = new TempDirectory();
        var held = new HeldDisposal();
        using var factory = new ProgramFactory(web => web
            .UseSetting("Http:Port", "0")
            .UseSetting("Mqtt:Port", "0")
            .UseSetting("Storage:DataDirectory", Path.Combine(temp.Path, "data"))
            .ConfigureServices(services =>
            {
                services.AddSingleton(_ => held);
                services.Insert(0, ServiceDescriptor.Singleton<IHostedService>(new SecondStopReleases(held))); // stopped last
            }));
        factory.UseKestrel();
        factory.StartServer();
        factory.Services.GetRequiredService<HeldDisposal>(); // made after the host's own services: disposed before them

        // Program's RunAsync stops the host and disposes it (as on SIGTERM); that disposal waits at the held service.
        factory.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        await held.Entered.WaitAsync(Timeout);

        // The factory stops the host again (which lets the held service go on), then finds its services being disposed.
        var disposedWhenReturned = await Task.Run(() =>
        {
            factory.Dispose();
            return held.Disposed.IsCompleted;
        }).WaitAsync(Timeout);

        Assert.True(disposedWhenReturned);
    }

    private sealed class HeldDisposal : IAsyncDisposable
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Entered => _entered.Task;

        public Task Disposed => _disposed.Task;

        public void Release() => _released.TrySetResult();

        public async ValueTask DisposeAsync()
        {
            _entered.TrySetResult();
            await _released.Task.WaitAsync(Timeout);
            _disposed.TrySetResult();
        }
    }

    /// <summary>Releases the held disposal when the host is stopped a second time: by the factory, after Program.</summary>
    private sealed class SecondStopReleases(HeldDisposal held) : IHostedService
    {
        private int _stops;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _stops) == 2)
            {
                held.Release();
            }

            return Task.CompletedTask;
        }
    }
}
