using IoTHub.Broker;
using IoTHub.Cluster;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Ownership;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Storage;
using IoTHub.Cluster.Membership;
using IoTHub.Cluster.Nodes;
using IoTHub.Cluster.Routing;
using IoTHub.Cluster.Sessions;
using IoTHub.Cluster.Settings;
using IoTHub.Web.Configuration;
using IoTHub.Web.Metrics;
using IoTHub.Web.Mqtt;
using Microsoft.Extensions.Options;
using IoTHub.Data.Stores;
using Npgsql;

namespace IoTHub.Web.Cluster;

/// <summary>
/// With Cluster:Enabled, runs this host as a node of an Orleans cluster (src/IoTHub.Cluster, docs/clustering.md);
/// without it, registers the one-node view for GET /api/v1/cluster and nothing of Orleans.
/// </summary>
internal static class ClusterSetup
{
    public static WebApplicationBuilder AddCluster(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IValidateOptions<ClusterOptions>, ConnectionValidator>();
        builder.Services.AddSingleton<ILocalConnections, BrokerConnections>();

        // Read before the host is built, as the listeners are: a bad value reads as its default here and still stops the start.
        var cluster = new ClusterOptions();
        cluster.Read(new SectionReader(builder.Configuration.GetSection(ClusterOptions.SectionName)));
        var storage = ReadStorage(builder.Configuration.GetSection(StorageOptions.SectionName));
        if (cluster.Enabled && ConnectionString(cluster, storage) is { Length: > 0 } connectionString)
        {
            var nodeName = ClusterSilo.NodeName(cluster.AdvertisedAddress, cluster.Port);
            if (storage.Provider == StorageProvider.Postgres && TagWithNode(storage.ConnectionString, nodeName) is { } tagged)
            {
                // Every database session of this node says which node it is, so that a survivor can end them when it dies.
                builder.Configuration.AddInMemoryCollection([new($"{StorageOptions.SectionName}:{nameof(StorageOptions.ConnectionString)}", tagged)]);
            }

            var settings = new ClusterNodeSettings(cluster.Name, TagWithNode(connectionString, nodeName) ?? connectionString, cluster.AdvertisedAddress,
                cluster.Port, cluster.ProbeTimeout, cluster.MissedProbesLimit, cluster.IAmAliveInterval, storage.MigrateOnStart, cluster.ForwardAckTimeout, cluster.Tls);
            builder.Services.AddSingleton<DefaultBroker>();
            builder.Services.AddSingleton<ILocalBroker>(static services => services.GetRequiredService<DefaultBroker>());
            builder.Services.AddSingleton<ILocalSessions>(static services => services.GetRequiredService<DefaultBroker>());
            builder.Services.AddSingleton(new ClusterNodeName(nodeName));
            builder.Services.AddHostedService<ClusterMetrics>();
            builder.Services.AddSingleton<BrokersFence>();
            builder.Services.AddSingleton<INodeFence>(static services => services.GetRequiredService<BrokersFence>());
            builder.Services.AddSingleton<IAgreedSettings, AgreedSettings>();
            builder.Services.AddSingleton(new NodeLabel(nodeName));
            builder.AddClusterSilo(settings);
        }
        else
        {
            builder.Services.AddSingleton<IClusterNodes, LocalNodeOnly>();
        }

        return builder;
    }

    /// <summary>
    /// <paramref name="connectionString"/> with an application name ending in the node's name (<see cref="PostgresStorage.ForNode"/>); null
    /// when it is no PostgreSQL connection string (the validation says so).
    /// </summary>
    private static string? TagWithNode(string connectionString, string nodeName)
    {
        try
        {
            return connectionString.Length == 0 ? null : PostgresStorage.ForNode(connectionString, nodeName);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static StorageOptions ReadStorage(IConfigurationSection section)
    {
        var storage = new StorageOptions();
        storage.Read(new SectionReader(section));
        return storage;
    }

    /// <summary>Cluster:ConnectionString, else the broker's own PostgreSQL database (Storage:ConnectionString with Storage:Provider=postgres).</summary>
    private static string ConnectionString(ClusterOptions cluster, StorageOptions storage) =>
        cluster.ConnectionString.Length > 0 ? cluster.ConnectionString
        : storage.Provider == StorageProvider.Postgres ? storage.ConnectionString
        : string.Empty;

    /// <summary>The checks that involve the Storage section: an enabled cluster needs a PostgreSQL database.</summary>
    private sealed class ConnectionValidator(IConfiguration configuration) : IValidateOptions<ClusterOptions>
    {
        private const string Key = $"{ClusterOptions.SectionName}:{nameof(ClusterOptions.ConnectionString)}";

        public ValidateOptionsResult Validate(string? name, ClusterOptions options)
        {
            if (!options.Enabled)
            {
                return ValidateOptionsResult.Success;
            }

            var connectionString = ConnectionString(options, ReadStorage(configuration.GetSection(StorageOptions.SectionName)));
            if (connectionString.Length == 0)
            {
                return ValidateOptionsResult.Fail($"{Key} is required when {ClusterOptions.SectionName}:{nameof(ClusterOptions.Enabled)} is true " +
                    "(the PostgreSQL database of the membership; it defaults to Storage:ConnectionString only with Storage:Provider=postgres).");
            }

            try
            {
                _ = new NpgsqlConnectionStringBuilder(connectionString);
            }
            catch (ArgumentException e)
            {
                return ValidateOptionsResult.Fail($"{Key} is not a PostgreSQL connection string: {e.Message}");
            }

            // PostgreSQL cuts a longer application name, and the node's name at its end with it: a survivor could not end its sessions.
            var tagged = TagWithNode(connectionString, ClusterSilo.NodeName(options.AdvertisedAddress, options.Port));
            var applicationName = tagged is null ? null : new NpgsqlConnectionStringBuilder(tagged).ApplicationName;
            return applicationName is { } tooLong && System.Text.Encoding.UTF8.GetByteCount(tooLong) > PostgresStorage.MaximumApplicationName
                ? ValidateOptionsResult.Fail($"{Key}: its Application Name with the node's name ({tooLong}) is longer than " +
                    $"{PostgresStorage.MaximumApplicationName} bytes, which PostgreSQL keeps; choose a shorter one.")
                : ValidateOptionsResult.Success;
        }
    }

    /// <summary>Cross-node routing and one owner per client id serve the default broker; named brokers (Mqtt:Brokers) stay on their node.</summary>
    private sealed class DefaultBroker(BrokerRegistry registry) : ILocalBroker, ILocalSessions
    {
        public void Attach(IRemoteRoutes routes) => registry.Default.AttachRemoteRoutes(routes);

        public int Deliver(MqttMessage message, bool toSubscribers, string[] sharedGroups) =>
            registry.Default.RouteForwarded(message, toSubscribers, sharedGroups);

        public void BeginDeliveries() => registry.Default.BeginForwardedBatch();

        public Task? EndDeliveries(ForwardReceipt? receipt) => registry.Default.EndForwardedBatch(
            receipt is null ? null : StorageOperation.ForwardReceipt(receipt.From, receipt.To, receipt.Sequence, receipt.PruneBelow));

        public bool KeepsForwardReceipts => registry.Default.KeepsForwardReceipts;

        public Task<long[]> FenceForwardsAsync(string from, string to, long[] sequences, CancellationToken cancellationToken) =>
            registry.Default.FenceForwardsAsync(from, to, sequences, cancellationToken);

        public void Attach(ISessionOwners owners) => registry.Default.AttachSessionOwners(owners);

        public Task GiveUpAsync(string clientId, bool continues) => registry.Default.GiveUpSessionAsync(clientId, continues);

        public string[] MovingRouteKeys(string clientId) => registry.Default.MovingRouteKeys(clientId);

        public bool HasSession(string clientId) => registry.Default.GetSessionListing(clientId) is not null;

        public Task<NodeAdoption?> AdoptNodeAsync(string node, CancellationToken cancellationToken) => registry.Default.AdoptNodeAsync(node, cancellationToken);
    }

    /// <summary>The connections of every broker of this process.</summary>
    private sealed class BrokerConnections(BrokerRegistry registry) : ILocalConnections
    {
        public int Count
        {
            get
            {
                var count = 0;
                foreach (var broker in registry.Brokers.Values)
                {
                    count += broker.ConnectionCount;
                }

                return count;
            }
        }
    }
}

/// <summary>This process as a node of a cluster: its name (advertised address and node-to-node port), the owner of the sessions it stores.</summary>
internal sealed record ClusterNodeName(string Name);
