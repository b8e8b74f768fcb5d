using System.Diagnostics;
using IoTHub.Broker;
using IoTHub.Cluster.Routing;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace IoTHub.Cluster.Sessions;

/// <summary>
/// When the membership declares a node dead, one survivor adopts what it left (docs/clustering.md#adoption-of-a-dead-nodes-sessions): the
/// active node with the lowest silo address, so that every survivor chooses the same one from the same view. It ends the dead node's
/// database sessions, takes its sessions from the store as offline sessions of its own and publishes the wills of its clients
/// (<see cref="ILocalSessions.AdoptNodeAsync"/>). Two nodes that choose differently (views apart for a moment) cannot both own a
/// session: each is claimed at its arbiter and taken from the store only from the dead node, and each will is taken by one node.
/// A node whose name a live node carries (it restarted as the same node) is not adopted: that node loaded its sessions itself.
/// Once it adopted (or gave up trying), and the sessions that clients took from the store meanwhile settled on their nodes with their
/// filters sent (<see cref="ClusterSessions.SettleTakenElsewhereAsync"/>), the adopter tells cross-node routing, which forgets the dead
/// node's filters here and, after this node's own filters, on the others (<see cref="ClusterRouting.Adopted"/>).
/// </summary>
internal sealed partial class DeadNodeAdoption(ILocalSessions broker, ClusterSessions sessions, ClusterRouting routing, ILocalSiloDetails local,
    IClusterMembershipService membership, ILogger<DeadNodeAdoption> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    /// <summary>How often the adoption of one dead node is tried while some of its sessions could not be claimed or read: for about 5 s.</summary>
    private const int Attempts = 20;

    // Short: a session that failed once (most often in a race with its client, which took it on another node meanwhile) delays the purge
    // of the dead node's routes, and with them every publisher of a message for its sessions, until it is tried again.
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(250);

    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<SiloAddress> _done = [];
    private Task? _loop;

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);

        // After ClusterSessions joined the broker to the arbiters (ServiceLifecycleStage.Active).
        lifecycle.Subscribe(nameof(DeadNodeAdoption), ServiceLifecycleStage.Active + 1, _ =>
        {
            _loop = Task.Run(() => WatchAsync(_stopping.Token), CancellationToken.None);
            return Task.CompletedTask;
        }, async cancellationToken =>
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            if (_loop is { } loop)
            {
                await loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        });
    }

    public void Dispose() => _stopping.Dispose();

    private async Task WatchAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stopping).ConfigureAwait(false))
            {
                foreach (var (address, member) in snapshot.Members)
                {
                    if (member.Status != SiloStatus.Dead || _done.Contains(address))
                    {
                        continue;
                    }

                    if (CarriedByLiveNode(snapshot, member.Name))
                    {
                        // Restarted as the same node (or this node's own earlier start): it has its sessions, and its database sessions are its own.
                        _done.Add(address);
                        routing.Purge(address.ToParsableString(), "it started again as node " + member.Name);
                        continue;
                    }

                    if (!IsAdopter(snapshot))
                    {
                        // Not done: should this node become the adopter (the one chosen dies too), it adopts what is left.
                        continue;
                    }

                    await AdoptAsync(member.Name, stopping).ConfigureAwait(false);
                    await sessions.SettleTakenElsewhereAsync().WaitAsync(stopping).ConfigureAwait(false);
                    _done.Add(address);
                    routing.Adopted(address.ToParsableString());
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The node stops.
        }
    }

    private async Task AdoptAsync(string node, CancellationToken stopping)
    {
        var started = Stopwatch.StartNew();
        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            try
            {
                if (await broker.AdoptNodeAsync(node, stopping).ConfigureAwait(false) is not { } adoption)
                {
                    // The nodes share no store.
                    return;
                }

                if (adoption.EndFailure is { } endFailure)
                {
                    Log.ConnectionsNotEnded(logger, node, endFailure);
                }

                Log.Adopted(logger, node, adoption.Adopted, adoption.Sessions, adoption.Wills, adoption.EndedConnections, started.ElapsedMilliseconds);
                if (adoption.Failed == 0)
                {
                    return;
                }

                Log.SessionsNotAdopted(logger, adoption.Failed, node, attempt, adoption.Failure);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
            {
                Log.AdoptionFailed(logger, node, attempt, e.GetBaseException().Message);
            }

            // What is left is tried again a little later (an arbiter of the dead node's share not yet found again, a store that did not answer).
            await Task.Delay(RetryDelay, stopping).ConfigureAwait(false);
        }
    }

    /// <summary>Whether a node that is not dead carries <paramref name="name"/>: a later start of the same node, or this one.</summary>
    private static bool CarriedByLiveNode(ClusterMembershipSnapshot snapshot, string name)
    {
        foreach (var (_, member) in snapshot.Members)
        {
            if (member.Status is not (SiloStatus.Dead or SiloStatus.None) && string.Equals(member.Name, name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether this node is the active node with the lowest silo address: the one every survivor chooses.</summary>
    private bool IsAdopter(ClusterMembershipSnapshot snapshot)
    {
        if (snapshot.GetSiloStatus(local.SiloAddress) != SiloStatus.Active)
        {
            return false;
        }

        foreach (var (address, member) in snapshot.Members)
        {
            if (member.Status == SiloStatus.Active && address.CompareTo(local.SiloAddress) < 0)
            {
                return false;
            }
        }

        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(1550, LogLevel.Information, "Cluster sessions: node {Node} is dead: this node adopted {Adopted} of its {Sessions} sessions and " +
            "{Wills} wills of its clients, and ended {Ended} of its database sessions, {Elapsed} ms after it learnt of the death")]
        public static partial void Adopted(ILogger logger, string node, int adopted, int sessions, int wills, int ended, long elapsed);

        [LoggerMessage(1551, LogLevel.Warning, "Cluster sessions: the database sessions of dead node {Node} could not be ended (its row locks stay " +
            "until it exits; the role needs pg_signal_backend or to be the dead node's): {Reason}")]
        public static partial void ConnectionsNotEnded(ILogger logger, string node, string reason);

        [LoggerMessage(1552, LogLevel.Warning, "Cluster sessions: {Failed} sessions of dead node {Node} not adopted (attempt {Attempt}): {Reason}")]
        public static partial void SessionsNotAdopted(ILogger logger, int failed, string node, int attempt, string? reason);

        [LoggerMessage(1553, LogLevel.Error, "Cluster sessions: adopting dead node {Node} failed (attempt {Attempt}): {Reason}")]
        public static partial void AdoptionFailed(ILogger logger, string node, int attempt, string reason);
    }
}
