using System.Net;
using IoTHub.Cluster.Membership;
using IoTHub.Cluster.Nodes;
using IoTHub.Cluster.Routing;
using IoTHub.Cluster.Sessions;
using IoTHub.Cluster.Settings;
using IoTHub.Cluster.Tls;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;

namespace IoTHub.Cluster;

/// <summary>
/// Runs an Orleans silo in the host when Cluster:Enabled is true (docs/clustering.md): membership in our PostgreSQL
/// table, node-to-node traffic on Cluster:Port (mutual TLS with Cluster:Tls, <see cref="NodeTraffic"/>), no gateway (no Orleans clients outside the nodes), and failure detection
/// tuned to declare a silent node dead in a few seconds, and the split brain guard (<see cref="MembershipStoreWatch"/>, which needs the
/// host's <see cref="INodeFence"/>), and the check at join that the settings which must agree do (which needs the host's
/// <see cref="IAgreedSettings"/>). Without it nothing of Orleans is registered.
/// </summary>
internal static class ClusterSilo
{
    public static void AddClusterSilo(this IHostApplicationBuilder builder, ClusterNodeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(options =>
            {
                options.ClusterId = settings.Name;
                options.ServiceId = settings.Name;
            });
            silo.Configure<SiloOptions>(options => options.SiloName = NodeName(settings));
            silo.Configure<EndpointOptions>(options =>
            {
                options.AdvertisedIPAddress = settings.AdvertisedAddress;
                options.SiloPort = settings.Port;
                options.SiloListeningEndpoint = new IPEndPoint(settings.AdvertisedAddress, settings.Port);
                options.GatewayPort = 0;
            });
            silo.Configure<ClusterMembershipOptions>(options =>
            {
                options.ProbeTimeout = settings.ProbeTimeout;
                options.NumMissedProbesLimit = settings.MissedProbesLimit;
                options.IAmAliveTablePublishTimeout = settings.IAmAliveInterval;
                // Learn of changes made by others in about the time it takes to declare a node dead, even without gossip.
                options.TableRefreshTimeout = settings.TableRefreshTimeout;
                // A vote counts while the node could have missed its probes since: stale ones must not add up.
                options.DeathVoteExpirationTimeout = settings.TableRefreshTimeout * 2;
                // Orleans adapts each probe's timeout (a phi accrual detector) between these bounds; its default upper bound, four
                // probe periods, made a frozen node take 8 to 9 s to be declared dead here. Capped at one period: about 2 s.
                options.MinProbeTimeout = settings.ProbeTimeout / 2;
                options.MaxProbeTimeout = settings.ProbeTimeout;
            });
            silo.Configure<GrainDirectoryOptions>(options =>
            {
                // After a node dies ungracefully, the strongly consistent directory of the client ids' arbiters holds the node's
                // registrations for this long from its estimated failure (Orleans' default 30 s, which kept its clients refused for
                // 26 s after it was declared dead; twice the detection window, 6 s, still made a failover take 5.5 s). A dead node's
                // arbiters cannot act for others: the other nodes no longer talk to it, it learns its death within a table refresh
                // if it wakes up or its network comes back (and Orleans stops it), and its store writes are fenced. One detection
                // window from the estimated failure ends about when the verdict comes.
                options.RangeLeaseDuration = settings.TableRefreshTimeout;
            });
            silo.Services.AddSingleton(new RoutingSettings { ForwardAckTimeout = settings.ForwardAckTimeout });
            silo.LogModeAtStart(settings);
            if (settings.Tls is { } tls)
            {
                silo.UseNodeTls(tls);
            }

            silo.AddNodeServices(settings.ConnectionString, settings.Name, settings.MigrateOnStart);
            silo.Services.AddSingleton(settings);
            silo.Services.AddSingleton<MembershipStoreWatch>();
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(static services => services.GetRequiredService<MembershipStoreWatch>());
            silo.Services.AddSingleton<INodeLeave, SiloLeave>();
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SettingsAgreement>();
        });
    }

    /// <summary>
    /// What a node of ours adds to an Orleans silo: our membership table, the per-node grains' placement, the view of the nodes, cross-node
    /// routing (which needs an <see cref="ILocalBroker"/>) and one owner per client id (which needs an <see cref="ILocalSessions"/>).
    /// </summary>
    public static void AddNodeServices(this ISiloBuilder silo, string connectionString, string clusterId, bool migrateOnStart)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddSingleton<IMembershipTable>(services =>
            new PostgresMembershipTable(connectionString, clusterId, migrateOnStart, services.GetService<MembershipStoreWatch>()));
        silo.AddPlacementDirector<OnNodePlacement, OnNodePlacementDirector>();
        silo.Services.AddSingleton<IClusterNodes, OrleansClusterNodes>();
        silo.Services.TryAddSingleton<RoutingSettings>();
        silo.Services.AddSingleton<ClusterRouting>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(static services => services.GetRequiredService<ClusterRouting>());
        silo.Services.TryAddSingleton<SessionSettings>();
        silo.Services.AddSingleton<ClusterSessions>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(static services => services.GetRequiredService<ClusterSessions>());
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, DeadNodeAdoption>();
#pragma warning disable ORLEANSEXP003 // Opted in on purpose: the arbiters of client ids must never have two activations (docs/clustering.md).
        silo.AddDistributedGrainDirectory(ClientGrain.DirectoryName);
#pragma warning restore ORLEANSEXP003
    }

    /// <summary>A node's name: its advertised address and port, unique in a cluster.</summary>
    public static string NodeName(ClusterNodeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return NodeName(settings.AdvertisedAddress, settings.Port);
    }

    /// <summary>The name of the node advertised at <paramref name="address"/> with node-to-node port <paramref name="port"/>.</summary>
    public static string NodeName(IPAddress address, int port) => new IPEndPoint(address, port).ToString();
}
