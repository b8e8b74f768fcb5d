namespace IoTHub.Broker;

public enum BrokerState
{
    Running,

    /// <summary>Stopping: CONNECTs are refused and PUBLISHes left unacknowledged while queues drain.</summary>
    Draining,

    /// <summary>Every connection closed; listeners answer CONNECT with Server unavailable.</summary>
    Stopped,
}
