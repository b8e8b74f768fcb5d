using System.Diagnostics;
using System.Globalization;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Storage;
using IoTHub.Data.Stores;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.LoadTest;

/// <summary>
/// Issue 24's start time (<c>--start-time sqlite,postgres</c>): a data set of <see cref="Sessions"/> persistent sessions, each
/// subscribed to its own <c>fleet/n/cmd</c>, a few with queued messages, and <see cref="Retained"/> retained messages of
/// <see cref="PayloadSize"/> bytes on <c>fleet/n/state</c>, written through the product's own store
/// (<see cref="RelationalBrokerStore.CommitAsync"/>, the broker's write path and schema); then the host is started on it
/// <see cref="Settings.StartRuns"/> times and timed until it listens, until <c>/health/ready</c> answers 200 and until a
/// client of a stored session has its CONNACK; the RSS after start is read once it is steady. The same start on an empty SQLite
/// database comes first, as the reference of the machine's state at the time.
/// </summary>
internal static class StartTime
{
    public const int Sessions = 100_000;
    public const int Retained = 1_000_000;
    public const int PayloadSize = 50;

    /// <summary>Every this many sessions one gets <see cref="QueuedPerSession"/> queued QoS 1 messages.</summary>
    private const int QueuedEvery = 1_000;
    private const int QueuedPerSession = 3;
    private const int BatchSize = 10_000;

    public static async Task<int> RunAsync(Settings settings, Paths paths, string brokerCpu)
    {
        Console.WriteLine($"start time, {Sessions:N0} sessions and {Retained:N0} retained messages; load average at start: {Report.LoadAverage()}");
        // What the machine gives a start with nothing stored, now: the data set's share is the difference.
        await MeasureAsync("empty sqlite", settings.StartRuns, paths, brokerCpu, []).ConfigureAwait(false);
        foreach (var provider in settings.StartTimeProviders)
        {
            if (provider == "sqlite")
            {
                var folder = Directory.CreateTempSubdirectory("iothub-start-").FullName;
                try
                {
                    var fill = Stopwatch.StartNew();
                    await using (var store = await SqliteStorage.OpenAsync(Path.Combine(folder, SqliteStorage.DefaultFileName), StorageDurability.Relaxed).ConfigureAwait(false))
                    {
                        await FillAsync(store).ConfigureAwait(false);
                    }

                    var size = new DirectoryInfo(folder).EnumerateFiles().Sum(f => f.Length);
                    Console.WriteLine($"sqlite: data set written in {fill.Elapsed.TotalSeconds:F1} s, {size / 1048576.0:F0} MB");
                    await MeasureAsync("sqlite", settings.StartRuns, paths, brokerCpu, ["--data-dir", folder]).ConfigureAwait(false);
                }
                finally
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
            else
            {
                var server = new PostgresServer();
                await server.InitializeAsync().ConfigureAwait(false);
                try
                {
                    var connectionString = await server.CreateDatabaseAsync().ConfigureAwait(false);
                    var fill = Stopwatch.StartNew();
                    await using (var store = await PostgresStorage.OpenAsync(connectionString, StorageDurability.Relaxed, migrate: true).ConfigureAwait(false))
                    {
                        await FillAsync(store).ConfigureAwait(false);
                    }

                    Console.WriteLine($"postgres: data set written in {fill.Elapsed.TotalSeconds:F1} s");
                    await MeasureAsync("postgres", settings.StartRuns, paths, brokerCpu,
                        ["--Storage:Provider=postgres", "--Storage:ConnectionString=" + connectionString]).ConfigureAwait(false);
                }
                finally
                {
                    await server.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        Console.WriteLine($"load average at end: {Report.LoadAverage()}");
        return 0;
    }

    /// <summary>Writes the data set in batches of <see cref="BatchSize"/> operations, each one transaction, as the broker's writer does.</summary>
    private static async Task FillAsync(RelationalBrokerStore store)
    {
        var batch = new List<StorageOperation>(BatchSize);
        async Task AddAsync(StorageOperation operation)
        {
            batch.Add(operation);
            if (batch.Count == BatchSize)
            {
                await store.CommitAsync(batch.ToArray()).ConfigureAwait(false);
                batch.Clear();
            }
        }

        var now = DateTimeOffset.UtcNow;
        var payload = new byte[PayloadSize];
        var subscription = new SubscriptionOptions(QualityOfService.AtLeastOnce, false, false, RetainHandling.SendAtSubscribe);
        for (var i = 0; i < Sessions; i++)
        {
            var clientId = ClientId(i);
            await AddAsync(StorageOperation.UpsertSession(clientId, 86_400, now)).ConfigureAwait(false);
            await AddAsync(StorageOperation.AddSubscription(clientId, Topic(i, "cmd"), subscription, 0)).ConfigureAwait(false);
            for (var sequence = 1; i % QueuedEvery == 0 && sequence <= QueuedPerSession; sequence++)
            {
                var message = MqttMessage.Create(Topic(i, "cmd"), payload, QualityOfService.AtLeastOnce, retain: false);
                await AddAsync(StorageOperation.EnqueueMessage(clientId, sequence, message, QualityOfService.AtLeastOnce, retain: false)).ConfigureAwait(false);
            }
        }

        for (var i = 0; i < Retained; i++)
        {
            BitConverter.TryWriteBytes(payload, i);
            var message = MqttMessage.Create(Topic(i, "state"), payload, QualityOfService.AtLeastOnce, retain: true);
            await AddAsync(StorageOperation.SetRetained(message.KeptAsRetained(now, "fleet", ClientId(i % Sessions)))).ConfigureAwait(false);
        }

        await store.CommitAsync(batch.ToArray()).ConfigureAwait(false);
    }

    private static async Task MeasureAsync(string provider, int runs, Paths paths, string brokerCpu, IReadOnlyList<string> storage)
    {
        for (var run = 1; run <= runs; run++)
        {
            var clock = Stopwatch.StartNew();
            await using var broker = await BrokerProcess.StartAsync(BrokerKind.IoTHub, paths, brokerCpu, Transport.Tcp, certificates: null, extraArguments: storage)
                .ConfigureAwait(false);
            var listening = clock.Elapsed;
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{await broker.HttpPortAsync().ConfigureAwait(false)}") };
            while (true)
            {
                using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative)).ConfigureAwait(false);
                if (ready.IsSuccessStatusCode)
                {
                    break;
                }

                if (clock.Elapsed > TimeSpan.FromMinutes(2))
                {
                    throw new TimeoutException($"/health/ready still answers {(int)ready.StatusCode} after {clock.Elapsed}");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(20)).ConfigureAwait(false);
            }

            var readyAt = clock.Elapsed;
            // A device of the data set comes back to its stored session (Clean Session 0).
            await using (var device = await LoadClient.ConnectAsync(new ClientTransport(broker.Port, Transport.Tcp, null, false), ClientId(run), [],
                new ClientOptions(CleanSession: false)).ConfigureAwait(false))
            {
                await device.DisconnectAsync().ConfigureAwait(false);
            }

            var connected = clock.Elapsed;
            var rss = await broker.SteadyRssAsync().ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{provider} run {run}: listening {listening.TotalSeconds:F2} s, ready {readyAt.TotalSeconds:F2} s, CONNACK {connected.TotalSeconds:F2} s, " +
                $"RSS {rss / 1048576.0:F0} MB, CPU {broker.CpuSeconds():F1} s, load average {Report.LoadAverage()}"));
        }
    }

    private static string ClientId(int i) => "fleet-" + i.ToString("D6", CultureInfo.InvariantCulture);

    private static string Topic(int i, string leaf) => "fleet/" + i.ToString(CultureInfo.InvariantCulture) + "/" + leaf;
}
