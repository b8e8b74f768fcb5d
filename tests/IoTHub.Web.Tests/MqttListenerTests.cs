using System.IO.Pipelines;
using System.Net.Sockets;
using IoTHub.Broker;
using IoTHub.Mqtt;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Web.Tests;

/// <summary>The host serves MQTT on its own Kestrel listener, next to HTTP.</summary>
public sealed class MqttListenerTests(KestrelHost host) : IClassFixture<KestrelHost>
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task ConnectOverTcpIsAnsweredByTheBroker(MqttProtocolVersion version)
    {
        using var socket = new Socket(host.MqttEndpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(host.MqttEndpoint);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var writer = PipeWriter.Create(stream);
        var reader = PipeReader.Create(stream);

        MqttEncoder.Write(writer, new ConnectPacket { ProtocolVersion = version, ClientId = "tcp-" + version }, version);
        await writer.FlushAsync();

        var connAck = await ReadPacketAsync(reader, version);
        Assert.Equal(ReasonCode.Success, Assert.IsType<ConnAckPacket>(connAck).ReasonCode);
        Assert.True(host.Services.GetRequiredService<MqttBroker>().FindSession("tcp-" + version)!.IsConnected);
    }

    private static async Task<ControlPacket> ReadPacketAsync(PipeReader reader, MqttProtocolVersion version)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await reader.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            var status = MqttDecoder.TryDecode(ref buffer, version, int.MaxValue, out var packet, out _);
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (status == DecodeStatus.Packet)
            {
                return packet.Control!;
            }

            Assert.Equal(DecodeStatus.NeedMoreData, status);
            Assert.False(result.IsCompleted, "connection closed before a packet arrived");
        }
    }
}
