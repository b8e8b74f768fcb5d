using System.Runtime.CompilerServices;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Diagnostics;

/// <summary>
/// PUBLISH packets and their bytes by QoS, kept by one read or write loop without sharing, then moved
/// into <see cref="BrokerStatistics"/> once per read or batch. Messages of QoS n at n, bytes at 3 + n.
/// </summary>
[InlineArray(6)]
internal struct QosTally
{
    private long _element;

    /// <summary>Messages of every QoS.</summary>
    public readonly long Messages => this[0] + this[1] + this[2];

    public void Add(QualityOfService qos, long bytes)
    {
        this[(int)qos]++;
        this[3 + (int)qos] += bytes;
    }

    /// <summary>Adds the counts to the shared counters and starts again from zero.</summary>
    public void MoveTo(long[] messages, long[] bytes)
    {
        for (var qos = 0; qos < 3; qos++)
        {
            if (this[qos] != 0)
            {
                Interlocked.Add(ref messages[qos], this[qos]);
                Interlocked.Add(ref bytes[qos], this[3 + qos]);
                this[qos] = 0;
                this[3 + qos] = 0;
            }
        }
    }
}
