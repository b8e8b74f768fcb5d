using System.Collections.Concurrent;
using IoTHub.Broker;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Ownership;
using IoTHub.Broker.Routing;
using IoTHub.Cluster.Routing;
using IoTHub.Cluster.Sessions;
using IoTHub.Data.Stores;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace IoTHub.Cluster.Tests;

/// <summary>Orleans' InProcessTestCluster (silos in one process, no sockets) whose membership is our table on a real PostgreSQL.</summary>
internal static class TestClusters
{
    /// <summary>Deploys <paramref name="silos"/> silos of our node services over a new database, each with a <see cref="RecordingBroker"/>.</summary>
    public static async Task<(InProcessTestCluster Cluster, string ConnectionString)> DeployAsync(PostgresServer server, int silos,
        Action<ISiloBuilder>? configure = null)
    {
        var connectionString = await server.CreateDatabaseAsync();
        await PostgresStorage.MigrateAsync(connectionString);
        var builder = new InProcessTestClusterBuilder((short)silos);
        // The test cluster brings its own in-memory membership unless told not to, and this version does not let that
        // switch be set from outside: ours must be the one the silos use.
        var useTestMembership = typeof(InProcessTestClusterOptions).GetProperty("UseTestClusterMembership",
            System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic);
        Assert.NotNull(useTestMembership);
        useTestMembership.SetValue(builder.Options, false);
        builder.Options.InitializeClientOnDeploy = false;
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddNodeServices(connectionString, builder.Options.ClusterId, migrateOnStart: false);
            silo.Services.AddSingleton<ILocalBroker, RecordingBroker>();
            silo.Services.AddSingleton<ILocalSessions, RecordingSessions>();
            configure?.Invoke(silo);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return (cluster, connectionString);
    }
}

/// <summary>A node's broker as cross-node routing sees it: what it was told to route comes from the test, what was delivered is kept.</summary>
internal sealed class RecordingBroker : ILocalBroker
{
    public IRemoteRoutes? Routes { get; private set; }

    public ConcurrentQueue<MqttMessage> Delivered { get; } = new();

    /// <summary>Who each delivered message was for: the ordinary subscriptions, and the share groups whose turn this node had.</summary>
    public ConcurrentQueue<(bool ToSubscribers, string[] SharedGroups)> DeliveredTo { get; } = new();

    public void Attach(IRemoteRoutes routes) => Routes = routes;

    /// <summary>Set: a batch delivered here is accepted only when it completes (a storage commit that takes its time, or fails).</summary>
    public TaskCompletionSource? Commit { get; set; }

    public int Deliver(MqttMessage message, bool toSubscribers, string[] sharedGroups)
    {
        DeliveredTo.Enqueue((toSubscribers, sharedGroups));
        Delivered.Enqueue(message);
        return 1;
    }

    /// <summary>Set: the store the nodes share keeps forward receipts, here this book (docs/clustering.md#forward-receipts).</summary>
    public ReceiptBook? Book { get; init; }

    public bool KeepsForwardReceipts => Book is not null;

    public void BeginDeliveries()
    {
    }

    public Task? EndDeliveries(ForwardReceipt? receipt)
    {
        if (receipt is not null)
        {
            Book!.Deliver(receipt, Commit?.Task ?? Task.CompletedTask);
        }

        return Commit?.Task;
    }

    public Task<long[]> FenceForwardsAsync(string from, string to, long[] sequences, CancellationToken cancellationToken) =>
        Task.FromResult(Book!.Fence(from, to, sequences));
}

/// <summary>
/// The forward receipts of a shared store as the nodes' brokers see them: a receipt counts once the commit of its batch succeeded, and a
/// fenced node's count no more.
/// </summary>
internal sealed class ReceiptBook
{
    private readonly Lock _lock = new();
    private readonly List<ForwardReceipt> _committed = [];
    private readonly HashSet<string> _fenced = new(StringComparer.Ordinal);

    /// <summary>Every receipt delivered with a batch, committed or not.</summary>
    public ConcurrentQueue<ForwardReceipt> Delivered { get; } = new();

    public void Deliver(ForwardReceipt receipt, Task commit)
    {
        Delivered.Enqueue(receipt);
        _ = commit.ContinueWith(_ =>
        {
            lock (_lock)
            {
                if (!_fenced.Contains(receipt.To))
                {
                    _committed.Add(receipt);
                }
            }
        }, CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public long[] Fence(string from, string to, long[] sequences)
    {
        lock (_lock)
        {
            _fenced.Add(to);
            return [.. sequences.Where(s => _committed.Exists(r => r.From == from && r.To == to && r.Sequence == s))];
        }
    }
}

/// <summary>
/// A node's sessions as the arbiters of client ids see them: the give-ups asked of it are kept, and answered at once unless
/// <see cref="Frozen"/> holds them (a node that does not answer).
/// </summary>
internal sealed class RecordingSessions : ILocalSessions
{
    public ISessionOwners? Owners { get; private set; }

    public ConcurrentQueue<(string ClientId, bool Continues)> GivenUp { get; } = new();

    /// <summary>Set: give-ups wait until it completes.</summary>
    public TaskCompletionSource? Frozen { get; set; }

    public void Attach(ISessionOwners owners) => Owners = owners;

    /// <summary>The dead nodes (their names) this node was asked to adopt, in order.</summary>
    public ConcurrentQueue<string> Adopted { get; } = new();

    /// <summary>Set: what an adoption does before it ends (waits for the test, adds the adopted sessions' filters).</summary>
    public Func<Task>? Adopting { get; set; }

    public async Task<NodeAdoption?> AdoptNodeAsync(string node, CancellationToken cancellationToken)
    {
        Adopted.Enqueue(node);
        if (Adopting is { } adopting)
        {
            await adopting();
        }

        return new NodeAdoption(0, 0, 0, null, 0, 0, null);
    }

    /// <summary>The route keys of this node's sessions by client id, as the test sets them: what a session moving away leaves refusing.</summary>
    public ConcurrentDictionary<string, string[]> RouteKeys { get; } = new(StringComparer.Ordinal);

    public string[] MovingRouteKeys(string clientId) => RouteKeys.GetValueOrDefault(clientId, []);

    /// <summary>A session is here when the test set its route keys.</summary>
    public bool HasSession(string clientId) => RouteKeys.ContainsKey(clientId);

    public async Task GiveUpAsync(string clientId, bool continues)
    {
        if (Frozen is { } frozen)
        {
            await frozen.Task;
        }

        GivenUp.Enqueue((clientId, continues));
    }
}
