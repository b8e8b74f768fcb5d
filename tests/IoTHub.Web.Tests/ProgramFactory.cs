using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IoTHub.Web.Tests;

/// <summary>
/// Program under WebApplicationFactory, whose Dispose returns once the host's services are all disposed. Program's own
/// RunAsync stops and disposes the host too, at the same time as the factory (dotnet/aspnetcore#40271); the service
/// provider disposes once, and the second caller returns at once. When that was the factory, its Dispose returned while
/// Program was still disposing (the access audit storing its last entries), and a test deleting the data directory met a
/// database made again in it. The provider disposes what it made in reverse order, so a service made before any other is
/// disposed last: its disposal tells that all are.
/// </summary>
internal sealed class ProgramFactory(Action<IWebHostBuilder> configure) : WebApplicationFactory<Program>
{
    private static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(30);
    private readonly LastDisposed _last = new();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _last.Disposed.WaitAsync(DisposeTimeout);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder) => configure(builder);

    protected override IHost CreateHost(IHostBuilder builder)
    {
        builder.UseServiceProviderFactory(context => new MadeFirst(_last, context.HostingEnvironment.IsDevelopment()));
        return base.CreateHost(builder);
    }

    private sealed class LastDisposed : IDisposable
    {
        private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Disposed => _disposed.Task;

        public void Dispose() => _disposed.TrySetResult();
    }

    /// <summary>The host's own container (validated in Development, as the host's default is), with <see cref="LastDisposed"/> made first.</summary>
    private sealed class MadeFirst(LastDisposed last, bool validate) : IServiceProviderFactory<IServiceCollection>
    {
        public IServiceCollection CreateBuilder(IServiceCollection services) => services;

        public IServiceProvider CreateServiceProvider(IServiceCollection services)
        {
            services.AddSingleton(_ => last); // made by the container, so disposed by it
            var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = validate, ValidateOnBuild = validate });
            provider.GetRequiredService<LastDisposed>();
            return provider;
        }
    }
}
