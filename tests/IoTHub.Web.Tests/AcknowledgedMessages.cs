using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>
/// The bookkeeping of a fault test: publishers record each message the broker acknowledged (PUBACK
/// for QoS 1, PUBREC for QoS 2: the broker has taken it over), and after the fault an offline
/// persistent subscriber takes everything stored for it. Nothing acknowledged may be missing, and
/// no QoS 2 message may come twice.
/// </summary>
internal sealed class AcknowledgedMessages
{
    public ConcurrentDictionary<string, byte> Qos1 { get; } = new();

    public ConcurrentDictionary<string, byte> Qos2 { get; } = new();

    /// <summary>Retained messages acknowledged, by topic (each topic is published once).</summary>
    public ConcurrentDictionary<string, string> Retained { get; } = new();

    public int Count => Qos1.Count + Qos2.Count + Retained.Count;

    /// <summary>
    /// Publishes <paramref name="messages"/> numbered messages to <paramref name="topic"/> (retained ones each
    /// to a topic of its own below it) with up to <paramref name="window"/> in flight, and records each
    /// acknowledged one. When the broker closes the connection or dies, it connects again (up to
    /// <paramref name="connections"/> connections in all) and sends again what was not acknowledged at QoS 1.
    /// Returns how many connections the broker closed.
    /// </summary>
    public async Task<int> PublishAsync(IPEndPoint endpoint, string clientId, string topic, QualityOfService qos, bool retain = false,
        int window = 1, int connections = 1, int padding = 0, int messages = int.MaxValue)
    {
        var next = 0;
        var closed = 0;
        var unacknowledged = new Queue<(string Topic, string Payload)>();
        for (var connection = 0; connection < connections; connection++)
        {
            MqttTestClient client;
            try
            {
                client = await MqttTestClient.ConnectTcpAsync(endpoint, clientId);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // The broker is gone (killed): nothing more to publish.
                return closed;
            }
            catch (IOException)
            {
                // Closed while connecting (the connection it takes over was still closing): again.
                closed++;
                continue;
            }
            catch (Xunit.Sdk.XunitException ex)
            {
                throw new InvalidOperationException($"{clientId}: connection {connection + 1} was refused", ex);
            }

            var inFlight = new Dictionary<ushort, (string Topic, string Payload)>();
            var released = new HashSet<ushort>();
            (string Topic, string Payload)? sending = null;
            await using (client)
            {
                try
                {
                    while (true)
                    {
                        while (inFlight.Count + released.Count < window && (unacknowledged.Count > 0 || next < messages))
                        {
                            sending = unacknowledged.Count > 0 ? unacknowledged.Dequeue() : NewMessage(clientId, topic, retain, padding, next++);
                            inFlight[await client.PublishAsync(sending.Value.Topic, sending.Value.Payload, qos, retain)] = sending.Value;
                            sending = null;
                        }

                        if (inFlight.Count + released.Count == 0)
                        {
                            return closed;
                        }

                        var packet = await client.ReceiveAsync();
                        var id = packet.Ack.PacketId;
                        switch (packet.Type)
                        {
                            case PacketType.PubAck:
                                Record(inFlight[id], retain, Qos1);
                                inFlight.Remove(id);
                                break;
                            case PacketType.PubRec:
                                Record(inFlight[id], retain, Qos2);
                                inFlight.Remove(id);
                                released.Add(id);
                                await client.SendAsync(new AckPacket(PacketType.PubRel, id));
                                break;
                            case PacketType.PubComp:
                                released.Remove(id);
                                break;
                            default:
                                throw new InvalidDataException($"unexpected {packet.Type}");
                        }
                    }
                }
                catch (Exception ex) when (ex is IOException or InvalidOperationException or Xunit.Sdk.XunitException)
                {
                    // The broker closed the connection (a commit failed) or died mid-flow. What it acknowledged
                    // it has; QoS 1 sends the rest again. A QoS 2 message is not sent again on a new clean
                    // session: that would be a new message to the broker, and its copy could come twice.
                    closed++;
                    if (qos == QualityOfService.AtLeastOnce)
                    {
                        foreach (var message in inFlight.Values)
                        {
                            unacknowledged.Enqueue(message);
                        }

                        if (sending is { } unsent)
                        {
                            unacknowledged.Enqueue(unsent);
                        }
                    }
                }
            }
        }

        return closed;
    }

    private static (string Topic, string Payload) NewMessage(string clientId, string topic, bool retain, int padding, int number)
    {
        var text = number.ToString(CultureInfo.InvariantCulture);

        // Sizes vary, so that a smaller write may still fit where a larger one did not.
        return (retain ? topic + "/" + text : topic, clientId + "-" + text + "-" + new string('x', padding == 0 ? 0 : number * 61 % padding));
    }

    /// <summary>
    /// Connects the persistent subscriber <paramref name="clientId"/> again and takes everything stored for
    /// it: a marker published to <paramref name="markerTopic"/> (which it subscribed to) is queued behind
    /// all of it, and every packet is answered until the marker comes. Then checks that every acknowledged
    /// QoS 1 and QoS 2 message came, QoS 2 ones once, and that every acknowledged retained message is
    /// kept (below <paramref name="retainedRoot"/>). Returns a line with the counts.
    /// </summary>
    public async Task<string> AssertStoredAsync(IPEndPoint endpoint, string clientId, string markerTopic, string? retainedRoot = null)
    {
        var qos1 = new HashSet<string>(StringComparer.Ordinal);
        var qos2 = new Dictionary<string, int>(StringComparer.Ordinal);
        await using (var subscriber = await MqttTestClient.ConnectTcpAsync(endpoint, clientId, cleanStart: false))
        {
            Assert.True(subscriber.LastConnAck!.SessionPresent);
            await using (var marker = await MqttTestClient.ConnectTcpAsync(endpoint, "marker"))
            {
                await marker.PublishAndWaitAsync(markerTopic, "marker");
            }

            while (!qos1.Contains("marker"))
            {
                // Publishes come pipelined, so every packet is answered as it comes: PUBACK, PUBREC, or PUBCOMP for a PUBREL.
                var packet = await subscriber.ReceiveAsync();
                switch (packet.Type)
                {
                    case PacketType.Publish when packet.Publish!.QualityOfService == QualityOfService.ExactlyOnce:
                        qos2[packet.Publish.PayloadText] = qos2.GetValueOrDefault(packet.Publish.PayloadText) + 1;
                        await subscriber.SendAsync(new AckPacket(PacketType.PubRec, packet.Publish.PacketId));
                        break;
                    case PacketType.Publish:
                        qos1.Add(packet.Publish!.PayloadText);
                        await subscriber.SendAsync(new AckPacket(PacketType.PubAck, packet.Publish.PacketId));
                        break;
                    case PacketType.PubRel:
                        await subscriber.SendAsync(new AckPacket(PacketType.PubComp, packet.Ack.PacketId));
                        break;
                    default:
                        Assert.Fail($"unexpected {packet.Type}");
                        break;
                }
            }
        }

        var retained = retainedRoot is null ? new Dictionary<string, string>() : await ReadRetainedAsync(endpoint, retainedRoot, Retained.Keys);
        var missingQos1 = Qos1.Keys.Where(key => !qos1.Contains(key)).ToList();
        var missingQos2 = Qos2.Keys.Where(key => !qos2.ContainsKey(key)).ToList();
        var missingRetained = Retained.Where(pair => retained.GetValueOrDefault(pair.Key) != pair.Value).Select(pair => pair.Key).ToList();
        var twice = qos2.Where(pair => pair.Value > 1).Select(pair => pair.Key).ToList();
        var summary = $"acknowledged QoS 1 {Qos1.Count}, QoS 2 {Qos2.Count}, retained {Retained.Count}; " +
            $"missing QoS 1 {missingQos1.Count}, QoS 2 {missingQos2.Count}, retained {missingRetained.Count}; QoS 2 twice {twice.Count}";
        Assert.True(missingQos1.Count + missingQos2.Count + missingRetained.Count + twice.Count == 0,
            summary + ": " + string.Join(", ", missingQos1.Concat(missingQos2).Concat(missingRetained).Concat(twice).Select(static key => key.TrimEnd('x'))));
        return summary;
    }

    private void Record((string Topic, string Payload) message, bool retain, ConcurrentDictionary<string, byte> byQos)
    {
        byQos[message.Payload] = 0;
        if (retain)
        {
            Retained[message.Topic] = message.Payload;
        }
    }

    /// <summary>
    /// The retained messages below <paramref name="root"/>, by topic: read until one of every topic in
    /// <paramref name="expected"/> came, or until none came within <see cref="MqttTestClient.Timeout"/> (then what is
    /// missing is reported). A live marker cannot end the read: a new subscription's retained messages are sent as its
    /// client takes them, so a live message may come before the last of them.
    /// </summary>
    private static async Task<Dictionary<string, string>> ReadRetainedAsync(IPEndPoint endpoint, string root, IEnumerable<string> expected)
    {
        var retained = new Dictionary<string, string>(StringComparer.Ordinal);
        var waiting = new HashSet<string>(expected, StringComparer.Ordinal);
        await using var reader = await MqttTestClient.ConnectTcpAsync(endpoint, "retained-reader");
        await reader.SubscribeAsync(root + "/#");
        try
        {
            while (waiting.Count > 0)
            {
                var publish = await reader.ExpectPublishAsync();
                Assert.True(publish.Retain, $"{publish.Topic}: a live message while only retained ones were expected");
                retained[publish.Topic] = publish.PayloadText;
                waiting.Remove(publish.Topic);
            }
        }
        catch (TimeoutException)
        {
            // Nothing more came: the topics still waited for are missing.
        }

        return retained;
    }
}
