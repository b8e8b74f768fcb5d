using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Xunit.Abstractions;

namespace IoTHub.Web.Tests.Security;

/// <summary>The access audit host recording at most <see cref="MaxPerSecond"/> entries a second.</summary>
public sealed class RateLimitedAuditHost() : AccessAuditHost(new Dictionary<string, string>
{
    ["Security:AccessAudit:MaxPerSecond"] = MaxPerSecond.ToString(CultureInfo.InvariantCulture),
})
{
    public const int MaxPerSecond = 200;
}

/// <summary>The access audit host with the audit off (<c>MaxPerSecond=0</c>): the same flood, for comparison.</summary>
public sealed class UnauditedHost() : AccessAuditHost(new Dictionary<string, string> { ["Security:AccessAudit:MaxPerSecond"] = "0" });

/// <summary>
/// A flood of refused PUBLISHes (issue 17: "rate-limited so a flood cannot stall the broker"): 20 000 QoS 0 PUBLISHes the rules
/// refuse, as fast as one connection sends them, while another client makes round trips. Prints the flood's time, the
/// round trips before and during it, and the managed heap. Runs alone: its timings and /metrics must not see other tests.
/// </summary>
public abstract class FloodContract(AccessAuditHost host, ITestOutputHelper output)
{
    protected const int Refused = 20_000;

    protected AccessAuditHost Host => host;

    /// <summary>
    /// Floods; returns when the flooder's last packet was handled, with the flood's seconds. First one refusal, recorded when
    /// <paramref name="audited"/>: the store's first insert (EF Core building its insert once) is not the flood's.
    /// </summary>
    protected async Task<double> FloodAsync(string flooder, bool audited)
    {
        await using (var first = await ConnectAsync(flooder + "-first", flooder))
        {
            await first.PublishAndWaitAsync($"devices/{flooder}/first", "allowed");
            await first.PublishAsync("open/secret/first", "refused", QualityOfService.AtLeastOnce);
            Assert.Equal(ReasonCode.NotAuthorized, (await first.ExpectAckAsync(PacketType.PubAck)).ReasonCode);
        }

        if (audited)
        {
            await host.WaitForAccessEntriesAsync($"clientId={flooder}-first", 1);
        }

        await using var echo = await ConnectAsync("flood-echo", "echo");
        Assert.Equal([ReasonCode.Success], (await echo.SubscribeAsync("devices/echo/#")).ReasonCodes); // granted QoS 0
        var before = await RoundTripsAsync(echo, 200, flood: null);
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);

        await using var client = await ConnectAsync(flooder, flooder);
        var watch = Stopwatch.StartNew();
        var flood = Task.Run(async () =>
        {
            for (var i = 0; i < Refused; i++)
            {
                await client.PublishAsync("open/secret/flood", "x"); // QoS 0: dropped without an answer
            }

            // Handled in order: its PUBACK comes after every refusal before it.
            await client.PublishAndWaitAsync($"devices/{flooder}/done", "done");
        });
        var during = await RoundTripsAsync(echo, int.MaxValue, flood);
        await flood;
        var seconds = watch.Elapsed.TotalSeconds;
        var heapAfter = GC.GetTotalMemory(forceFullCollection: true);

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{GetType().Name}: {Refused} refused publishes in {seconds:F2} s ({Refused / seconds:F0}/s); round trips before: {Describe(before)}; during: {Describe(during)}; " +
            $"managed heap {heapBefore / 1024} KiB before, {heapAfter / 1024} KiB after"));
        Assert.NotEmpty(during);
        Assert.True(during.Max() < TimeSpan.FromSeconds(2), $"a round trip took {during.Max().TotalMilliseconds} ms during the flood");
        return seconds;
    }

    private static string Describe(List<TimeSpan> trips)
    {
        var sorted = trips.Select(static t => t.TotalMilliseconds).Order().ToList();
        return string.Create(CultureInfo.InvariantCulture, $"{sorted.Count} (median {sorted[sorted.Count / 2]:F2} ms, max {sorted[^1]:F2} ms)");
    }

    /// <summary>A PUBLISH to itself and back (QoS 0: one packet each way), until <paramref name="count"/> or the flood ends.</summary>
    private static async Task<List<TimeSpan>> RoundTripsAsync(MqttTestClient echo, int count, Task? flood)
    {
        List<TimeSpan> trips = [];
        while (trips.Count < count && flood?.IsCompleted != true)
        {
            var watch = Stopwatch.StartNew();
            await echo.PublishAsync("devices/echo/ping", "ping");
            await echo.ExpectPublishAsync();
            trips.Add(watch.Elapsed);
        }

        return trips;
    }

    private async Task<MqttTestClient> ConnectAsync(string clientId, string userName)
    {
        var client = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V500);
        await client.ConnectAcceptedAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = clientId, UserName = userName });
        return client;
    }
}

[Collection(nameof(MetricsRunAlone))]
public sealed class AccessAuditFloodTests(RateLimitedAuditHost host, ITestOutputHelper output) : FloodContract(host, output), IClassFixture<RateLimitedAuditHost>
{
    [Fact]
    public async Task A_flood_records_at_most_the_rate_and_one_summary_a_second_counts_the_rest_and_round_trips_go_on()
    {
        var admin = await Host.AdminAsync();
        var start = DateTimeOffset.UtcNow.AddMilliseconds(-1);
        var metricsBefore = await MetricsScrape.ReadAsync(Host.Client);

        var seconds = await FloodAsync("flooder", audited: true);

        // Every refusal is either recorded or counted in a summary: recorded + dropped = the flood.
        var since = "&from=" + Uri.EscapeDataString(start.ToString("O", CultureInfo.InvariantCulture));
        long recorded = 0, dropped = 0;
        List<JsonElement> summaries = [];
        await Poll.UntilAsync(async () =>
        {
            recorded = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?kind=access&clientId=flooder&pageSize=1" + since)).GetProperty("totalCount").GetInt32();
            summaries = [.. (await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?kind=access&result=dropped&pageSize=500" + since)).GetProperty("items").EnumerateArray()];
            dropped = summaries.Sum(static s => s.GetProperty("dropped").GetInt64());
            return recorded + dropped == Refused;
        }, TimeSpan.FromSeconds(20), "the flood's refusals are not all recorded or summarised");

        // The first second's budget is used (less the refusal before the flood, and a decision that races the turn of a second).
        Assert.InRange(recorded, RateLimitedAuditHost.MaxPerSecond / 2, RateLimitedAuditHost.MaxPerSecond * (Math.Ceiling(seconds) + 1));
        // One summary at most per second of the flood (and the one after it).
        Assert.InRange(summaries.Count, 1, Math.Ceiling(seconds) + 2);
        Assert.All(summaries, static s => Assert.Equal(JsonValueKind.Null, s.GetProperty("clientId").ValueKind));

        var metricsAfter = await MetricsScrape.ReadAsync(Host.Client);
        double Delta(string reason) => metricsAfter[Series(reason)] - metricsBefore.GetValueOrDefault(Series(reason));
        Assert.Equal(dropped, Delta("rate_limit") + Delta("queue_full"));
        Assert.Equal(0, Delta("write_failed"));
    }

    private static string Series(string reason) => $"iothub_access_audit_dropped_total{{reason=\"{reason}\"}}";
}

[Collection(nameof(MetricsRunAlone))]
public sealed class UnauditedFloodTests(UnauditedHost host, ITestOutputHelper output) : FloodContract(host, output), IClassFixture<UnauditedHost>
{
    [Fact]
    public async Task Without_the_audit_the_same_flood_records_nothing()
    {
        await FloodAsync("flooder-unaudited", audited: false);
        Assert.Empty(await Host.AccessEntriesAsync("clientId=flooder-unaudited"));
    }
}
