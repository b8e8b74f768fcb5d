using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Interop.Tests.Security;
using IoTHub.Testing;

namespace IoTHub.Interop.Tests;

/// <summary>GET /api/v1/statistics/history with MQTTnet clients publishing through the broker: the samples show their traffic.</summary>
public sealed class StatisticsHistoryTests : IClassFixture<StatisticsHistoryTests.Host>
{
    private readonly InteropHost _host;

    public StatisticsHistoryTests(Host host) => _host = host.Server;

    [Fact]
    public async Task The_history_shows_real_traffic_to_a_viewer()
    {
        var viewer = await ViewerAsync();
        await using var subscriber = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "history-subscriber");
        await subscriber.SubscribeAsync("history/#", 1);
        await using var publisher = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "history-publisher");
        _host.HistorySampler.Sample(); // the next sample counts only what follows

        for (var i = 0; i < 20; i++)
        {
            await publisher.PublishAsync("history/temperature", "21.5", qos: 1);
        }

        await subscriber.WaitForMessagesAsync(20);
        await Poll.UntilAsync(() => _host.Broker.Statistics.MessagesDelivered >= 20);
        _host.HistorySampler.Sample();

        var history = await viewer.GetFromJsonAsync<JsonElement>("/api/v1/statistics/history?series=connections,messages_in,messages_out,bytes_in,delivery_latency_p99&range=15m");
        Assert.Equal("15m", history.GetProperty("range").GetString());
        Assert.Equal(10, history.GetProperty("intervalSeconds").GetInt32());
        var points = history.GetProperty("timestamps").GetArrayLength();
        Assert.InRange(points, 2, 90);
        var series = history.GetProperty("series").EnumerateArray().ToDictionary(static s => s.GetProperty("name").GetString()!, static s => s);
        Assert.Equal(["connections", "messages_in", "messages_out", "bytes_in", "delivery_latency_p99"], series.Keys);
        Assert.Equal("messages/s", series["messages_in"].GetProperty("unit").GetString());
        Assert.Equal(2, Newest(series["connections"]));
        // The host is this class's own: the traffic above is all there was (in one sample, or two when the sampler's own timer ticked in between).
        Assert.True(Highest(series["messages_in"]) > 0, series["messages_in"].ToString());
        Assert.True(Highest(series["messages_out"]) > 0, series["messages_out"].ToString());
        Assert.True(Highest(series["bytes_in"]) > 0, series["bytes_in"].ToString());
        Assert.InRange(Highest(series["delivery_latency_p99"]), double.Epsilon, 5);

        // A sample with no traffic: rates fall to 0, a latency with no delivery is null (not 0).
        _host.HistorySampler.Sample();
        var quiet = await viewer.GetFromJsonAsync<JsonElement>("/api/v1/statistics/history?series=messages_in,delivery_latency_p99");
        var values = quiet.GetProperty("series")[0].GetProperty("values");
        Assert.Equal(0, values[values.GetArrayLength() - 1].GetDouble());
        var latencies = quiet.GetProperty("series")[1].GetProperty("values");
        Assert.Equal(JsonValueKind.Null, latencies[latencies.GetArrayLength() - 1].ValueKind);
    }

    [Theory]
    [InlineData("series=connections,messages_sideways", "series", "messages_sideways")]
    [InlineData("series=connections&range=2h", "range", "15m, 1h, 6h, 24h")]
    public async Task An_unknown_series_or_range_is_refused_naming_the_valid_values(string query, string field, string named)
    {
        var admin = await AdminClient.LoginAsync(_host);
        var response = await admin.GetAsync("/api/v1/statistics/history?" + query);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var error = Assert.Single(problem.GetProperty("errors").EnumerateObject());
        Assert.Equal(field, error.Name);
        Assert.Contains(named, error.Value[0].GetString(), StringComparison.Ordinal);
        if (field == "series")
        {
            Assert.Contains("delivery_latency_p99", error.Value[0].GetString(), StringComparison.Ordinal);
        }
    }

    private static double Highest(JsonElement series) =>
        series.GetProperty("values").EnumerateArray().Where(static v => v.ValueKind == JsonValueKind.Number).Max(static v => v.GetDouble());

    private static double Newest(JsonElement series)
    {
        var values = series.GetProperty("values");
        return values[values.GetArrayLength() - 1].GetDouble();
    }

    private async Task<HttpClient> ViewerAsync()
    {
        var admin = await AdminClient.LoginAsync(_host);
        var created = await admin.PostAsJsonAsync("/api/v1/accounts", new { userName = "history-viewer", password = "history-viewer-password", role = "viewer" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var viewer = new HttpClient { BaseAddress = admin.BaseAddress, Timeout = MqttNetClient.Timeout };
        var login = await viewer.PostAsJsonAsync("/api/v1/auth/login", new { userName = "history-viewer", password = "history-viewer-password" });
        var token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString();
        viewer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return viewer;
    }

    /// <summary>An interop host whose first admin has the tests' password.</summary>
    public sealed class Host : IDisposable
    {
        public Host()
        {
            AdminClient.ChoosePassword();
            Server = new InteropHost();
        }

        internal InteropHost Server { get; }

        public void Dispose() => Server.Dispose();
    }
}
