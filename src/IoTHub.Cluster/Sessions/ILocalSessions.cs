using IoTHub.Broker;
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

    /// <summary>
    /// The route keys of the session of <paramref name="clientId"/> that another node resumes when this one gives it up with
    /// <c>continues</c>, as the subscription tree tells cross-node routing of them (filters, and <c>$share/{group}/{filter}</c> for shared
    /// subscriptions); empty when there is no such session or it has no subscriptions.
    /// </summary>
    string[] MovingRouteKeys(string clientId);

    /// <summary>Whether the session of <paramref name="clientId"/> is here (connected or not).</summary>
    bool HasSession(string clientId);

    /// <summary>
    /// Adopts what node <paramref name="node"/> (its name) left when it died: its database sessions ended, its sessions taken from the store
    /// as offline sessions here (each one no live node claimed since), the wills of its connected clients published or held. Null when
    /// the nodes share no store.
    /// </summary>
    Task<NodeAdoption?> AdoptNodeAsync(string node, CancellationToken cancellationToken);
}
