using System.Data;
using System.Globalization;
using System.Net;
using System.Text;
using IoTHub.Data.Stores;
using Npgsql;
using Orleans;
using Orleans.Runtime;

namespace IoTHub.Cluster.Membership;

/// <summary>
/// Orleans' membership table on PostgreSQL, in the tables <c>cluster_versions</c> and <c>cluster_members</c> that the
/// broker's migrations create (src/IoTHub.Data/Configurations/ClusterConfiguration.cs). Every change of a member row
/// moves the cluster's version on by one in the same transaction, and only from the version the writer read
/// (<see cref="TableVersion.VersionEtag"/>): an UPDATE of the version row with that condition takes the row's lock, so of
/// two nodes writing from one version the second waits, finds the version moved and changes nothing. A member row's
/// own etag guards it the same way. IAmAlive writes touch neither (Orleans' contract: they are not membership changes).
/// </summary>
/// <remarks>Each read and write of a running node tells <paramref name="watch"/> whether the store answered (split brain).</remarks>
internal sealed class PostgresMembershipTable(string connectionString, string clusterId, bool migrate = false, MembershipStoreWatch? watch = null)
    : IMembershipTable
{
    private const string MemberColumns =
        "address, port, generation, silo_name, host_name, status, proxy_port, suspect_times, start_time, i_am_alive_time, etag";

    private const string KeyCondition = "cluster_id = @cluster AND address = @address AND port = @port AND generation = @generation";

    public string ClusterId => clusterId;

    /// <summary>
    /// Migrates the database when told to (Storage:MigrateOnStart), checks the tables are there and, when asked, creates the
    /// cluster's version row at 0.
    /// </summary>
    public async Task InitializeMembershipTable(bool tryInitTableVersion)
    {
        try
        {
            if (migrate)
            {
                await PostgresStorage.MigrateAsync(connectionString);
            }

            await using var connection = await OpenAsync();
            await using var check = Command(connection, "SELECT to_regclass('cluster_members') IS NOT NULL AND to_regclass('cluster_versions') IS NOT NULL");
            if (await check.ExecuteScalarAsync() is not true)
            {
                throw new ClusterStoreException("the database has no membership tables: migrate it (docs/storage.md) or set Storage:MigrateOnStart=true.");
            }

            if (tryInitTableVersion)
            {
                await using var insert = Command(connection, "INSERT INTO cluster_versions (cluster_id, version) VALUES (@cluster, 0) ON CONFLICT (cluster_id) DO NOTHING");
                await insert.ExecuteNonQueryAsync();
            }
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // Unreachable, refused, not migrated: reported at start as one line, like a store that cannot be opened.
            throw new ClusterStoreException(e.Message, e);
        }
    }

    public async Task DeleteMembershipTableEntries(string clusterId)
    {
        await using var connection = await OpenAsync();
        // The member rows go with the version row (ON DELETE CASCADE).
        await using var delete = Command(connection, "DELETE FROM cluster_versions WHERE cluster_id = @other");
        delete.Parameters.AddWithValue("other", clusterId);
        await delete.ExecuteNonQueryAsync();
    }

    /// <summary>Deletes the rows of nodes declared dead whose last sign of life is older than <paramref name="beforeDate"/>.</summary>
    public async Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate)
    {
        await using var connection = await OpenAsync();
        await using var delete = Command(connection, "DELETE FROM cluster_members WHERE cluster_id = @cluster AND status = @dead AND i_am_alive_time < @before");
        delete.Parameters.AddWithValue("dead", (int)SiloStatus.Dead);
        delete.Parameters.AddWithValue("before", beforeDate.ToUnixTimeMilliseconds());
        await delete.ExecuteNonQueryAsync();
    }

    public Task<MembershipTableData> ReadRow(SiloAddress key) => WatchedAsync(ReadAsync(key));

    public Task<MembershipTableData> ReadAll() => WatchedAsync(ReadAsync(null));

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        return WatchedAsync(ChangeAsync(tableVersion, async (connection, transaction) =>
        {
            await using var insert = Command(connection,
                $"INSERT INTO cluster_members (cluster_id, {MemberColumns}) VALUES (@cluster, @address, @port, @generation, @silo_name, @host_name, " +
                "@status, @proxy_port, @suspect_times, @start_time, @i_am_alive_time, 0) ON CONFLICT DO NOTHING", transaction);
            AddEntry(insert, entry);
            return await insert.ExecuteNonQueryAsync() == 1;
        }));
    }

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        if (!int.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var rowVersion))
        {
            return Task.FromResult(false);
        }

        return WatchedAsync(ChangeAsync(tableVersion, async (connection, transaction) =>
        {
            await using var update = Command(connection,
                "UPDATE cluster_members SET silo_name = @silo_name, host_name = @host_name, status = @status, proxy_port = @proxy_port, " +
                "suspect_times = @suspect_times, start_time = @start_time, i_am_alive_time = @i_am_alive_time, etag = etag + 1 " +
                $"WHERE {KeyCondition} AND etag = @etag", transaction);
            AddEntry(update, entry);
            update.Parameters.AddWithValue("etag", rowVersion);
            return await update.ExecuteNonQueryAsync() == 1;
        }));
    }

    public Task UpdateIAmAlive(MembershipEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return WatchedAsync(UpdateIAmAliveAsync(entry));
    }

    private async Task<int> UpdateIAmAliveAsync(MembershipEntry entry)
    {
        await using var connection = await OpenAsync();
        await using var update = Command(connection, $"UPDATE cluster_members SET i_am_alive_time = @i_am_alive_time WHERE {KeyCondition}");
        AddKey(update, entry.SiloAddress);
        update.Parameters.AddWithValue("i_am_alive_time", Milliseconds(entry.IAmAliveTime));
        return await update.ExecuteNonQueryAsync();
    }

    /// <summary>Awaits an operation and tells the watch whether the store answered.</summary>
    private async Task<T> WatchedAsync<T>(Task<T> operation)
    {
        try
        {
            var result = await operation;
            watch?.Succeeded();
            return result;
        }
        catch (Exception e)
        {
            watch?.Failed(e);
            throw;
        }
    }

    /// <summary>
    /// Moves the version from the one <paramref name="tableVersion"/> was read at to its number and makes the row change
    /// in one transaction; false, with nothing changed, when either condition fails.
    /// </summary>
    private async Task<bool> ChangeAsync(TableVersion tableVersion, Func<NpgsqlConnection, NpgsqlTransaction, Task<bool>> change)
    {
        if (!int.TryParse(tableVersion.VersionEtag, NumberStyles.None, CultureInfo.InvariantCulture, out var readVersion))
        {
            return false;
        }

        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted);
        await using var version = Command(connection, "UPDATE cluster_versions SET version = @next WHERE cluster_id = @cluster AND version = @read", transaction);
        version.Parameters.AddWithValue("next", tableVersion.Version);
        version.Parameters.AddWithValue("read", readVersion);
        if (await version.ExecuteNonQueryAsync() != 1 || !await change(connection, transaction))
        {
            await transaction.RollbackAsync();
            return false;
        }

        await transaction.CommitAsync();
        return true;
    }

    /// <summary>The version and one row (or all of them) as one snapshot.</summary>
    private async Task<MembershipTableData> ReadAsync(SiloAddress? key)
    {
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
        await using var version = Command(connection, "SELECT version FROM cluster_versions WHERE cluster_id = @cluster", transaction);
        var number = await version.ExecuteScalarAsync() is int found ? found : 0;

        await using var read = Command(connection,
            $"SELECT {MemberColumns} FROM cluster_members WHERE cluster_id = @cluster" + (key is null ? string.Empty : $" AND {KeyCondition}"), transaction);
        if (key is not null)
        {
            AddKey(read, key);
        }

        List<Tuple<MembershipEntry, string>> rows = [];
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add(Tuple.Create(ToEntry(reader), reader.GetInt32(10).ToString(CultureInfo.InvariantCulture)));
            }
        }

        await transaction.CommitAsync();
        return new MembershipTableData(rows, new TableVersion(number, number.ToString(CultureInfo.InvariantCulture)));
    }

    private static MembershipEntry ToEntry(NpgsqlDataReader reader) => new()
    {
        SiloAddress = SiloAddress.New(IPAddress.Parse(reader.GetString(0)), reader.GetInt32(1), reader.GetInt32(2)),
        SiloName = reader.GetString(3),
        HostName = reader.GetString(4),
        Status = (SiloStatus)reader.GetInt32(5),
        ProxyPort = reader.GetInt32(6),
        SuspectTimes = ParseSuspects(reader.GetString(7)),
        StartTime = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(8)).UtcDateTime,
        IAmAliveTime = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(9)).UtcDateTime,
    };

    private static void AddEntry(NpgsqlCommand command, MembershipEntry entry)
    {
        AddKey(command, entry.SiloAddress);
        command.Parameters.AddWithValue("silo_name", entry.SiloName ?? string.Empty);
        command.Parameters.AddWithValue("host_name", entry.HostName ?? string.Empty);
        command.Parameters.AddWithValue("status", (int)entry.Status);
        command.Parameters.AddWithValue("proxy_port", entry.ProxyPort);
        command.Parameters.AddWithValue("suspect_times", FormatSuspects(entry.SuspectTimes));
        command.Parameters.AddWithValue("start_time", Milliseconds(entry.StartTime));
        command.Parameters.AddWithValue("i_am_alive_time", Milliseconds(entry.IAmAliveTime));
    }

    private static void AddKey(NpgsqlCommand command, SiloAddress silo)
    {
        command.Parameters.AddWithValue("address", silo.Endpoint.Address.ToString());
        command.Parameters.AddWithValue("port", silo.Endpoint.Port);
        command.Parameters.AddWithValue("generation", silo.Generation);
    }

    private static string FormatSuspects(List<Tuple<SiloAddress, DateTime>>? suspects)
    {
        if (suspects is null or { Count: 0 })
        {
            return string.Empty;
        }

        var text = new StringBuilder();
        foreach (var (silo, at) in suspects)
        {
            text.Append(text.Length == 0 ? string.Empty : ";").Append(silo.ToParsableString()).Append('|').Append(Milliseconds(at).ToString(CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    private static List<Tuple<SiloAddress, DateTime>> ParseSuspects(string text)
    {
        List<Tuple<SiloAddress, DateTime>> suspects = [];
        foreach (var item in text.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = item.Split('|');
            suspects.Add(Tuple.Create(SiloAddress.FromParsableString(parts[0]),
                DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(parts[1], CultureInfo.InvariantCulture)).UtcDateTime));
        }

        return suspects;
    }

    private static long Milliseconds(DateTime time) =>
        new DateTimeOffset(time.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(time, DateTimeKind.Utc) : time).ToUnixTimeMilliseconds();

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            await connection.OpenAsync();
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private NpgsqlCommand Command(NpgsqlConnection connection, string sql, NpgsqlTransaction? transaction = null)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddWithValue("cluster", clusterId);
        return command;
    }
}

/// <summary>The cluster's membership database cannot be used at start: the host reports it as one line and exits 1.</summary>
internal sealed class ClusterStoreException : Exception
{
    public ClusterStoreException(string reason)
        : base($"Cluster:ConnectionString: the cluster's PostgreSQL database cannot be used: {reason}")
    {
    }

    public ClusterStoreException(string reason, Exception inner)
        : base($"Cluster:ConnectionString: the cluster's PostgreSQL database cannot be used: {reason}", inner)
    {
    }
}
