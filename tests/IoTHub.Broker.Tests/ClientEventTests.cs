using System.Threading.Channels;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests;

/// <summary>The client connection event that watchers (the dashboard) follow.</summary>
public sealed class ClientEventTests : IAsyncLifetime
{
    private readonly MqttBroker _broker = TestBroker.Start();
    private readonly Channel<(string ClientId, bool Connected, string? Reason)> _events = Channel.CreateUnbounded<(string, bool, string?)>();

    public Task InitializeAsync()
    {
        _broker.ClientConnectionChanged += (_, e) => _events.Writer.TryWrite((e.ClientId, e.Connected, e.Reason));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    // With DISCONNECT, or closed without one: a connect and an end each once, the end with why.
    [Theory]
    [InlineData(true, "DISCONNECT")]
    [InlineData(false, "connection closed by the client")]
    public async Task Connect_and_end_are_raised_once_each_the_end_with_its_reason(bool disconnect, string reason)
    {
        var client = await PipeClient.ConnectAsync(_broker, "watched");
        Assert.Equal(("watched", true, null), await NextAsync());

        if (disconnect)
        {
            await client.DisconnectAsync();
        }

        await client.DisposeAsync();
        Assert.Equal(("watched", false, reason), await NextAsync());
        Assert.False(_events.Reader.TryRead(out _));
    }

    [Fact]
    public async Task A_takeover_raises_a_connect_and_no_disconnect()
    {
        await using var first = await PipeClient.ConnectAsync(_broker, "twice", MqttProtocolVersion.V500);
        Assert.Equal(("twice", true, null), await NextAsync());

        await using var second = await PipeClient.ConnectAsync(_broker, "twice", MqttProtocolVersion.V500);
        await first.ExpectClosedAsync();
        Assert.Equal(("twice", true, null), await NextAsync());
        Assert.True(_broker.FindSession("twice")!.IsConnected);
        Assert.False(_events.Reader.TryRead(out _));
    }

    [Fact]
    public async Task A_throwing_handler_does_not_stop_the_connection_or_other_handlers()
    {
        _broker.ClientConnectionChanged += static (_, _) => throw new InvalidOperationException("watcher failed");

        await using var client = await PipeClient.ConnectAsync(_broker, "robust");
        Assert.Equal(("robust", true, null), await NextAsync());
        await client.PublishAndWaitAsync("still/works", "yes");
    }

    private async Task<(string, bool, string?)> NextAsync() => await _events.Reader.ReadAsync().AsTask().WaitAsync(PipeClient.Timeout);
}
