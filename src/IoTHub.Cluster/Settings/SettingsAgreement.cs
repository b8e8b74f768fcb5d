using IoTHub.Cluster.Nodes;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace IoTHub.Cluster.Settings;

/// <summary>The settings every node of a cluster must share (key: the configuration key, value: its value in force), from the host.</summary>
internal interface IAgreedSettings
{
    IReadOnlyDictionary<string, string> Read();
}

/// <summary>One per node, placed on that node like <see cref="NodeGrain"/>: its settings that must agree.</summary>
internal interface INodeSettingsGrain : IGrainWithStringKey
{
    Task<Dictionary<string, string>> GetAgreedSettingsAsync();
}

[OnNodePlacement]
internal sealed class NodeSettingsGrain(IAgreedSettings settings) : Grain, INodeSettingsGrain
{
    public Task<Dictionary<string, string>> GetAgreedSettingsAsync() => Task.FromResult(new Dictionary<string, string>(settings.Read(), StringComparer.Ordinal));
}

/// <summary>
/// At join (docs/clustering.md#settings-that-must-agree): once this node is active, it asks every other active node for its
/// <see cref="IAgreedSettings"/> and, when one differs, stops its own start (the host exits 1) naming each differing key with
/// both values. It runs before the brokers start, so the node never served a client. A node that does not answer in time is
/// left out (said in the log): a joining node does not wait on a dying one.
/// </summary>
internal sealed partial class SettingsAgreement(IAgreedSettings settings, IClusterMembershipService membership, ILocalSiloDetails local, IGrainFactory grains,
    ILogger<SettingsAgreement> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(SettingsAgreement), ServiceLifecycleStage.Active, CheckAsync);
    }

    /// <summary>"key: a here, b on node" for each key whose values differ (a key one side lacks counts, shown as "(none)").</summary>
    public static List<string> Differences(IReadOnlyDictionary<string, string> mine, IReadOnlyDictionary<string, string> theirs, string node)
    {
        ArgumentNullException.ThrowIfNull(mine);
        ArgumentNullException.ThrowIfNull(theirs);
        List<string> differences = [];
        foreach (var key in mine.Keys.Union(theirs.Keys).Order(StringComparer.Ordinal))
        {
            var here = mine.GetValueOrDefault(key, "(none)");
            var there = theirs.GetValueOrDefault(key, "(none)");
            if (!string.Equals(here, there, StringComparison.Ordinal))
            {
                differences.Add($"{key} is {here} here and {there} on {node}");
            }
        }

        return differences;
    }

    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        var mine = settings.Read();
        List<string> differences = [];
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status != SiloStatus.Active || member.SiloAddress.Equals(local.SiloAddress))
            {
                continue;
            }

            Dictionary<string, string> theirs;
            try
            {
                theirs = await grains.GetGrain<INodeSettingsGrain>(member.SiloAddress.ToParsableString()).GetAgreedSettingsAsync()
                    .WaitAsync(AskTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or SiloUnavailableException)
            {
                Log.NotAsked(logger, member.Name, e.Message);
                continue;
            }

            differences.AddRange(Differences(mine, theirs, member.Name));
        }

        if (differences.Count > 0)
        {
            throw new ClusterSettingsException(differences);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1530, LogLevel.Warning, "Cluster: the settings of node {Node} could not be compared with this node's: {Reason}")]
        public static partial void NotAsked(ILogger logger, string node, string reason);
    }
}

/// <summary>This node's settings differ from an active node's: the host reports each difference and exits 1.</summary>
internal sealed class ClusterSettingsException(IReadOnlyList<string> differences)
    : Exception("Cluster: this node's settings must agree with the active nodes' (docs/clustering.md#settings-that-must-agree): " + string.Join("; ", differences))
{
    public IReadOnlyList<string> Differences { get; } = differences;
}
