using IoTHub.Cluster.Settings;

namespace IoTHub.Cluster.Tests;

/// <summary>How two nodes' settings are compared at join (the join itself: ClusterTests.ANodeWhoseSettingsDifferFromTheActiveNodesStopsAtJoinListingThem).</summary>
public sealed class SettingsAgreementTests
{
    [Fact]
    public void Each_differing_key_is_named_once_in_order_with_both_values_and_a_missing_one_counts()
    {
        var mine = new Dictionary<string, string> { ["Mqtt:MaximumQoS"] = "2", ["Mqtt:MaximumPacketSize"] = "2048", ["Mqtt:New"] = "1" };
        var theirs = new Dictionary<string, string> { ["Mqtt:MaximumQoS"] = "2", ["Mqtt:MaximumPacketSize"] = "1048576", ["Cluster:ProbeTimeout"] = "00:00:01" };

        Assert.Equal(
        [
            "Cluster:ProbeTimeout is (none) here and 00:00:01 on 10.0.0.12:11111",
            "Mqtt:MaximumPacketSize is 2048 here and 1048576 on 10.0.0.12:11111",
            "Mqtt:New is 1 here and (none) on 10.0.0.12:11111",
        ], SettingsAgreement.Differences(mine, theirs, "10.0.0.12:11111"));
        Assert.Empty(SettingsAgreement.Differences(mine, mine, "10.0.0.12:11111"));
    }
}
