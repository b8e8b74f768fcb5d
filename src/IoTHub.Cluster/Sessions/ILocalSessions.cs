using IoTHub.Broker.Ownership;

namespace IoTHub.Cluster.Sessions;

/// <summary>The sessions of this node's broker that the cluster keeps to one node per client id (the host's <c>default</c> broker).</summary>
internal interface ILocalSessions
{
    /// <summary>Joins the broker to the cluster: every CONNECT it accepts claims its client id through <paramref name="owners"/>.</summary>
    void Attach(ISessionOwners owners);

    /// <summary>
    /// Lets the session of <paramref name="clientId"/> go to the node that claimed it (its connection closed with DISCONNECT 0x8E);
    /// completes once its state is committed to the store. <paramref name="continues"/>: that node resumes it (no clean start).
    /// </summary>
    Task GiveUpAsync(string clientId, bool continues);
}
