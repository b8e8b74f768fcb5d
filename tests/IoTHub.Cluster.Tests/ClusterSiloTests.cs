using System.Net;
using IoTHub.Cluster.Membership;
using IoTHub.Cluster.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;

namespace IoTHub.Cluster.Tests;

/// <summary>The silo a node runs, as configured from the Cluster section (built, not started).</summary>
public sealed class ClusterSiloTests
{
    private static readonly ClusterNodeSettings Settings = new("plant-7", "Host=db;Database=iothub", IPAddress.Parse("10.0.0.11"), 11112,
        TimeSpan.FromSeconds(1), 2, TimeSpan.FromSeconds(5), MigrateOnStart: false,
        ForwardAckTimeout: TimeSpan.FromSeconds(3));

    [Fact]
    public void TheSiloTakesTheClusterSectionAndTheTunedProbes()
    {
        using var host = Build(Settings);

        var cluster = host.Services.GetRequiredService<IOptions<ClusterOptions>>().Value;
        Assert.Equal("plant-7", cluster.ClusterId);
        Assert.Equal("plant-7", cluster.ServiceId);
        Assert.Equal("10.0.0.11:11112", host.Services.GetRequiredService<IOptions<SiloOptions>>().Value.SiloName);

        var endpoints = host.Services.GetRequiredService<IOptions<EndpointOptions>>().Value;
        Assert.Equal(IPAddress.Parse("10.0.0.11"), endpoints.AdvertisedIPAddress);
        Assert.Equal(11112, endpoints.SiloPort);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.11"), 11112), endpoints.SiloListeningEndpoint);
        Assert.Equal(0, endpoints.GatewayPort);

        // docs/clustering.md, "Failure detection": these numbers are what the detection times there were measured with.
        var membership = host.Services.GetRequiredService<IOptions<ClusterMembershipOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(1), membership.ProbeTimeout);
        Assert.Equal(2, membership.NumMissedProbesLimit);
        Assert.Equal(TimeSpan.FromSeconds(5), membership.IAmAliveTablePublishTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), membership.TableRefreshTimeout);
        Assert.Equal(TimeSpan.FromSeconds(6), membership.DeathVoteExpirationTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(500), membership.MinProbeTimeout);
        Assert.Equal(TimeSpan.FromSeconds(1), membership.MaxProbeTimeout);

        var table = Assert.IsType<PostgresMembershipTable>(host.Services.GetRequiredService<IMembershipTable>());
        Assert.Equal("plant-7", table.ClusterId);
        Assert.IsType<OrleansClusterNodes>(host.Services.GetRequiredService<IClusterNodes>());

        // Split brain: the node stops serving after two table refreshes without an answer from the store.
        Assert.Equal(TimeSpan.FromSeconds(6), host.Services.GetRequiredService<ClusterNodeSettings>().StoreLossBound);
        Assert.NotNull(host.Services.GetRequiredService<MembershipStoreWatch>());

        // Cluster:Routing:ForwardAckTimeout bounds what a forwarded QoS 1 or 2 message's acknowledgement waits for.
        Assert.Equal(TimeSpan.FromSeconds(3), host.Services.GetRequiredService<Routing.RoutingSettings>().ForwardAckTimeout);
    }

    private static IHost Build(ClusterNodeSettings settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.AddClusterSilo(settings);
        builder.Services.AddSingleton<ILocalConnections>(new NoConnections());
        builder.Services.AddSingleton<Routing.ILocalBroker, RecordingBroker>();
        builder.Services.AddSingleton<INodeFence, NoFence>();
        return builder.Build();
    }

    private sealed class NoFence : INodeFence
    {
        public void Fence(string reason)
        {
        }

        public void Lift()
        {
        }
    }

    private sealed class NoConnections : ILocalConnections
    {
        public int Count => 0;
    }
}
