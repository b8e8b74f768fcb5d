using System.Net;
using IoTHub.Cluster.Membership;
using IoTHub.Data.Stores;
using IoTHub.Testing;
using Orleans;
using Orleans.Runtime;

namespace IoTHub.Cluster.Tests;

/// <summary>The membership table on a real PostgreSQL server, migrated by the broker's own migrations.</summary>
[Collection(PostgresServerGroup.Name)]
public sealed class MembershipTableTests(PostgresServer server) : IAsyncLifetime
{
    private static readonly DateTime Start = new(2026, 12, 7, 8, 0, 0, DateTimeKind.Utc);

    private string _connectionString = string.Empty;

    public async Task InitializeAsync()
    {
        _connectionString = await server.CreateDatabaseAsync();
        await PostgresStorage.MigrateAsync(_connectionString);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task AnInsertedRowIsReadBackWithTheNextVersion()
    {
        var table = await TableAsync();
        var node = Entry(11111, SiloStatus.Joining);
        node.SuspectTimes = [Tuple.Create(Silo(22222), Start.AddSeconds(3))];

        Assert.True(await table.InsertRow(node, Next((await table.ReadAll()).Version)));

        var all = await table.ReadAll();
        Assert.Equal(1, all.Version.Version);
        var (read, etag) = Assert.Single(all.Members);
        Assert.Equal(node.SiloAddress, read.SiloAddress);
        Assert.Equal(SiloStatus.Joining, read.Status);
        Assert.Equal("node-11111", read.SiloName);
        Assert.Equal(Start, read.StartTime);
        Assert.Equal(Start.AddSeconds(1), read.IAmAliveTime);
        var (suspect, since) = Assert.Single(read.SuspectTimes!);
        Assert.Equal(Silo(22222), suspect);
        Assert.Equal(Start.AddSeconds(3), since);
        Assert.Equal("0", etag);

        var one = await table.ReadRow(node.SiloAddress);
        Assert.Equal(1, one.Version.Version);
        Assert.Equal(node.SiloAddress, Assert.Single(one.Members).Item1.SiloAddress);
        Assert.Empty((await table.ReadRow(Silo(33333))).Members);
    }

    [Fact]
    public async Task AChangeFromAStaleTableVersionIsRefused()
    {
        var table = await TableAsync();
        var read = (await table.ReadAll()).Version;
        Assert.True(await table.InsertRow(Entry(11111, SiloStatus.Joining), Next(read)));

        // A second node that read the table before the first insert.
        Assert.False(await table.InsertRow(Entry(22222, SiloStatus.Joining), Next(read)));

        var all = await table.ReadAll();
        Assert.Equal(1, all.Version.Version);
        Assert.Single(all.Members);

        // Read again, it may.
        Assert.True(await table.InsertRow(Entry(22222, SiloStatus.Joining), Next(all.Version)));
        Assert.Equal(2, (await table.ReadAll()).Members.Count);
    }

    [Fact]
    public async Task AnUpdateWithAStaleEtagIsRefusedAndChangesNothing()
    {
        var table = await TableAsync();
        var node = Entry(11111, SiloStatus.Joining);
        Assert.True(await table.InsertRow(node, Next((await table.ReadAll()).Version)));
        var first = await table.ReadRow(node.SiloAddress);
        var etag = first.Members[0].Item2;

        node.Status = SiloStatus.Active;
        Assert.True(await table.UpdateRow(node, etag, Next(first.Version)));
        var second = await table.ReadRow(node.SiloAddress);
        Assert.Equal(SiloStatus.Active, second.Members[0].Item1.Status);
        Assert.NotEqual(etag, second.Members[0].Item2);

        // The old etag, with a table version that is right: the row guard alone refuses.
        node.Status = SiloStatus.Dead;
        Assert.False(await table.UpdateRow(node, etag, Next(second.Version)));
        // The right etag with a stale table version: the version guard alone refuses.
        Assert.False(await table.UpdateRow(node, second.Members[0].Item2, Next(first.Version)));

        var after = await table.ReadRow(node.SiloAddress);
        Assert.Equal(SiloStatus.Active, after.Members[0].Item1.Status);
        Assert.Equal(second.Version.Version, after.Version.Version);
        Assert.Equal(second.Members[0].Item2, after.Members[0].Item2);
    }

    [Fact]
    public async Task IAmAliveMovesTheTimeOnlyNotTheVersionsOrTheOtherColumns()
    {
        var table = await TableAsync();
        var node = Entry(11111, SiloStatus.Active);
        Assert.True(await table.InsertRow(node, Next((await table.ReadAll()).Version)));
        var before = await table.ReadRow(node.SiloAddress);

        await table.UpdateIAmAlive(new MembershipEntry
        {
            SiloAddress = node.SiloAddress,
            IAmAliveTime = Start.AddMinutes(5),
            Status = SiloStatus.Dead,
            SiloName = "ignored",
        });

        var after = await table.ReadRow(node.SiloAddress);
        var (entry, etag) = after.Members[0];
        Assert.Equal(Start.AddMinutes(5), entry.IAmAliveTime);
        Assert.Equal(SiloStatus.Active, entry.Status);
        Assert.Equal("node-11111", entry.SiloName);
        Assert.Equal(before.Members[0].Item2, etag);
        Assert.Equal(before.Version.Version, after.Version.Version);
    }

    [Fact]
    public async Task CleanupDeletesOnlyDeadNodesSilentSinceTheDate()
    {
        var table = await TableAsync();
        var oldDead = Entry(11111, SiloStatus.Dead);
        var newDead = Entry(22222, SiloStatus.Dead);
        newDead.IAmAliveTime = Start.AddHours(2);
        var oldActive = Entry(33333, SiloStatus.Active);
        foreach (var entry in new[] { oldDead, newDead, oldActive })
        {
            Assert.True(await table.InsertRow(entry, Next((await table.ReadAll()).Version)));
        }

        await table.CleanupDefunctSiloEntries(new DateTimeOffset(Start.AddHours(1)));

        var left = (await table.ReadAll()).Members.Select(m => m.Item1.SiloAddress).ToHashSet();
        Assert.Equal([newDead.SiloAddress, oldActive.SiloAddress], left);
    }

    [Fact]
    public async Task DeletingEntriesOfAClusterLeavesOtherClustersAlone()
    {
        var table = await TableAsync("blue");
        var other = await TableAsync("green");
        Assert.True(await table.InsertRow(Entry(11111, SiloStatus.Active), Next((await table.ReadAll()).Version)));
        Assert.True(await other.InsertRow(Entry(22222, SiloStatus.Active), Next((await other.ReadAll()).Version)));

        await table.DeleteMembershipTableEntries("blue");

        Assert.Empty((await table.ReadAll()).Members);
        Assert.Single((await other.ReadAll()).Members);
    }

    [Fact]
    public async Task OfTwoNodesWritingFromOneVersionExactlyOneWins()
    {
        const int Rounds = 25;
        var first = await TableAsync();
        var second = new PostgresMembershipTable(_connectionString, first.ClusterId);
        for (var round = 0; round < Rounds; round++)
        {
            var version = (await first.ReadAll()).Version;
            using var start = new ManualResetEventSlim();
            var a = Task.Run(async () =>
            {
                start.Wait();
                return await first.InsertRow(Entry(20000 + round, SiloStatus.Joining), Next(version));
            });
            var b = Task.Run(async () =>
            {
                start.Wait();
                return await second.InsertRow(Entry(40000 + round, SiloStatus.Joining), Next(version));
            });
            start.Set();
            bool[] won = await Task.WhenAll(a, b);

            Assert.Equal(1, won.Count(static w => w));
            var after = await first.ReadAll();
            Assert.Equal(version.Version + 1, after.Version.Version);
            Assert.Equal(round + 1, after.Members.Count);
        }
    }

    [Fact]
    public async Task EtagsThatAreNotOursAreRefused()
    {
        var table = await TableAsync();
        var node = Entry(11111, SiloStatus.Joining);
        Assert.False(await table.InsertRow(node, new TableVersion(1, "not-a-version")));
        Assert.True(await table.InsertRow(node, Next((await table.ReadAll()).Version)));

        Assert.False(await table.UpdateRow(node, "not-an-etag", Next((await table.ReadAll()).Version)));
        Assert.Equal(SiloStatus.Joining, (await table.ReadRow(node.SiloAddress)).Members[0].Item1.Status);
    }

    [Fact]
    public async Task ATableToldToMigrateCreatesItsTables()
    {
        var table = new PostgresMembershipTable(await server.CreateDatabaseAsync(), "blue", migrate: true);

        await table.InitializeMembershipTable(true);

        Assert.Equal(0, (await table.ReadAll()).Version.Version);
    }

    [Fact]
    public async Task AMissingDatabaseSchemaIsNamedAtInitialization()
    {
        var table = new PostgresMembershipTable(await server.CreateDatabaseAsync(), "blue");

        var e = await Assert.ThrowsAsync<ClusterStoreException>(() => table.InitializeMembershipTable(true));

        Assert.Contains("no membership tables", e.Message, StringComparison.Ordinal);
    }

    private async Task<PostgresMembershipTable> TableAsync(string clusterId = "blue")
    {
        var table = new PostgresMembershipTable(_connectionString, clusterId);
        await table.InitializeMembershipTable(true);
        // A second initialization (every node makes one) keeps the version.
        await table.InitializeMembershipTable(true);
        return table;
    }

    private static TableVersion Next(TableVersion read) => read.Next();

    private static SiloAddress Silo(int port) => SiloAddress.New(IPAddress.Loopback, port, 7);

    private static MembershipEntry Entry(int port, SiloStatus status) => new()
    {
        SiloAddress = Silo(port),
        SiloName = $"node-{port}",
        HostName = "localhost",
        Status = status,
        StartTime = Start,
        IAmAliveTime = Start.AddSeconds(1),
        SuspectTimes = [],
    };
}
