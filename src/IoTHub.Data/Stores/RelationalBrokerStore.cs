using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Storage;
using IoTHub.Data.Entities;
using IoTHub.Mqtt;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Stores;

/// <summary>
/// A store in a relational database through EF Core: EF owns the schema (migrations), the
/// connection and the loading queries; a batch is written as one transaction of parameterised
/// upserts and deletes (<c>INSERT ... ON CONFLICT</c>, which SQLite and PostgreSQL both speak), sent
/// in one round trip where the driver supports <see cref="DbBatch"/>. One connection stays open for
/// the store's life; only the storage writer uses it, one batch at a time.
/// </summary>
public sealed class RelationalBrokerStore : IBrokerStore, ISharedSessionStore
{
    private const string MessageColumns = "topic, message_qos, message_retain, properties, payload";
    private const string UpdateMessageColumns = "topic = excluded.topic, message_qos = excluded.message_qos, message_retain = excluded.message_retain, " +
        "properties = excluded.properties, payload = excluded.payload";

    private const string IfSessionExists = " WHERE EXISTS (SELECT 1 FROM sessions WHERE client_id = @p0)";

    // Acting for a cluster node (ActForNode, PostgreSQL), a session's rows change only while that node owns it: a node that gave the
    // session up, or was declared dead and replaced, changes nothing of it any more. The check share-locks the session's row until the
    // commit, so a takeover (which updates the row's owner) waits for a commit in progress and then reads all of it, and a commit that
    // comes after the takeover finds the new owner. @owner is the last parameter of such a statement.
    private const string IfSessionOwned = " WHERE EXISTS (SELECT 1 FROM sessions WHERE client_id = @p0 AND owner_node = @owner FOR SHARE)";
    private const string AndSessionOwned = " AND EXISTS (SELECT 1 FROM sessions WHERE client_id = @p0 AND owner_node = @owner FOR SHARE)";
    private const string UpsertOwnedSession = "INSERT INTO sessions (client_id, expiry_interval, disconnected_at, owner_node) VALUES (@p0, @p1, @p2, @p3) " +
        "ON CONFLICT (client_id) DO UPDATE SET expiry_interval = excluded.expiry_interval, disconnected_at = excluded.disconnected_at " +
        "WHERE sessions.owner_node = @p3";

    // A forward receipt (acting for a node): the upsert of the receiving node's fence row changes it unless the node is fenced, and holds
    // the row's lock until the commit, so that FenceForwardsAsync waits for this commit; when it changes nothing the batch fails as a whole.
    private const string TouchForwardFence = "INSERT INTO forward_fences (node, fenced, touched_at) VALUES (@p0, FALSE, @p1) " +
        "ON CONFLICT (node) DO UPDATE SET touched_at = excluded.touched_at WHERE NOT forward_fences.fenced";

    /// <summary>How long a fence row is kept after its node's last receipt or its fence.</summary>
    private static readonly TimeSpan ForwardFenceLifetime = TimeSpan.FromDays(1);

    private readonly DbContextOptions<BrokerDbContext> _options;

    private readonly BrokerDbContext _context;
    private readonly string _connectionSetup;
    private readonly List<Statement> _statements = [];

    // Without batches (SQLite): a command per SQL text, kept for the connection's life, so each statement is prepared
    // once instead of parsed again for every operation (in the soak that parsing was 100 000 native allocations a second
    // and left the allocator's arenas growing).
    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);
    private DbProviderFactory? _factory;
    private string? _owner;

    // Acting for a node: each statement on a session's rows with the owner check, made once per statement.
    private readonly Dictionary<string, string> _ownedStatements = new(StringComparer.Ordinal);

    /// <param name="options">The database's options, for the contexts of <see cref="TakeSessionAsync"/>.</param>
    /// <param name="context">A context this store owns.</param>
    /// <param name="connectionSetup">SQL run on every new connection (durability settings).</param>
    internal RelationalBrokerStore(DbContextOptions<BrokerDbContext> options, BrokerDbContext context, string connectionSetup)
    {
        _options = options;
        _context = context;
        _connectionSetup = connectionSetup;
    }

    /// <summary>
    /// Reads each table once, row by row as the database sends them (no list of rows beside the state, no tracking): a start
    /// with a million retained messages keeps one object per message and its bytes.
    /// </summary>
    public async Task<StoredState> LoadAsync(CancellationToken cancellationToken = default)
    {
        await EnsureOpenAsync(cancellationToken).ConfigureAwait(false);
        var state = new StoredState();
        await foreach (var row in Rows(_context.RetainedMessages, cancellationToken).ConfigureAwait(false))
        {
            // A row kept before the publisher was recorded has no stored_at, and is read without a publisher as before.
            var storedAt = ToTime(row.StoredAt);
            state.Retained.Add(MqttMessage.Restore(row.Topic, row.Payload, (QualityOfService)row.QualityOfService, row.Retain, row.Properties, ToTime(row.ExpiresAt),
                storedAt is null ? null : row.PublisherClientId, storedAt, storedAt is null ? null : row.PublisherUserName));
        }

        await foreach (var row in Rows(_context.PendingWills, cancellationToken).ConfigureAwait(false))
        {
            state.Wills.Add(ToWill(row));
        }

        if (_owner is { } owner)
        {
            // Sessions no node owns (stored before clustering was turned on) go to the first node that starts, each to one node.
            await _context.Sessions.Where(x => x.OwnerNode == null)
                .ExecuteUpdateAsync(x => x.SetProperty(row => row.OwnerNode, owner), cancellationToken).ConfigureAwait(false);
        }

        await ReadSessionsAsync(_context, _owner, clientId: null, state.Sessions, cancellationToken).ConfigureAwait(false);
        return state;
    }

    public void ActForNode(string node) => _owner = node;

    public async Task<StoredSession?> TakeSessionAsync(string clientId, string? fromNode, CancellationToken cancellationToken)
    {
        // The row first, in one statement on a pooled connection of its own (the writer's is busy with its commits on another thread)
        // and without an EF context: most claims are of client ids with no stored session (a new device, a clean start), for which a
        // context and a transaction cost most of a clustered CONNECT (docs/benchmarks.md, "The cost of a CONNECT in a cluster"). The
        // UPDATE waits for a commit of the previous owner in progress (its owner check holds the row's share lock) and commits at once:
        // from then on the previous owner's writes, fenced by that check, change nothing, so the reads below find the session as it
        // last committed it, and only this node writes it after them.
        if (await TakeRowAsync(clientId, fromNode, cancellationToken).ConfigureAwait(false) == 0)
        {
            return null;
        }

        await using var context = new BrokerDbContext(_options);
        var sessions = new List<StoredSession>(1);
        await ReadSessionsAsync(context, owner: null, clientId, sessions, cancellationToken).ConfigureAwait(false);
        if (sessions.Count == 0)
        {
            // Deleted since (its expiry, the admin API) by this node, the only one that may write it now.
            return null;
        }

        await foreach (var row in Rows(context.PendingWills.Where(x => x.ClientId == clientId), cancellationToken).ConfigureAwait(false))
        {
            // Held for its delay by a node that died (a live owner took it out as it gave the session up).
            sessions[0].Will = ToWill(row);
        }

        return sessions[0];
    }

    /// <summary>Makes this node the owner of the session row of <paramref name="clientId"/> (only from <paramref name="fromNode"/> when given); the rows changed.</summary>
    private async Task<int> TakeRowAsync(string clientId, string? fromNode, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = fromNode is null
            ? Command(connection, "UPDATE sessions SET owner_node = @p1 WHERE client_id = @p0", clientId, _owner)
            : Command(connection, "UPDATE sessions SET owner_node = @p1 WHERE client_id = @p0 AND owner_node = @p2", clientId, _owner, fromNode);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<List<string>> ListSessionsAsync(string node, CancellationToken cancellationToken)
    {
        await using var context = new BrokerDbContext(_options);
        return await context.Sessions.Where(x => x.OwnerNode == node).Select(x => x.ClientId).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<List<StoredWill>> TakeConnectionWillsAsync(string node, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, "DELETE FROM connection_wills WHERE owner_node = @p0 " +
            "RETURNING client_id, delay_interval, expiry_interval, topic, message_qos, message_retain, properties, payload", node);
        var wills = new List<StoredWill>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var clientId = reader.GetString(0);
            var message = MqttMessage.Restore(reader.GetString(3), (byte[])reader.GetValue(7), (QualityOfService)reader.GetInt16(4), reader.GetBoolean(5),
                (byte[])reader.GetValue(6), expiresAtUtc: null);
            wills.Add(new StoredWill(clientId, message, (uint)reader.GetInt64(1), default, reader.IsDBNull(2) ? null : (uint)reader.GetInt64(2)));
        }

        return wills;
    }

    public async Task<int> EndConnectionsAsync(string node, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity " +
            "WHERE pid <> pg_backend_pid() AND application_name LIKE @p0) AS ended", "%" + PostgresStorage.NodeTag(node));
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<long[]> FenceForwardsAsync(string fromNode, string toNode, long[] sequences, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        // Committed at once (no transaction): it waits for a commit of toNode in progress, whose receipt holds the row's lock (Describe),
        // and every later one finds the row fenced and fails.
        await using (var fence = Command(connection, "INSERT INTO forward_fences (node, fenced, touched_at) VALUES (@p0, TRUE, @p1) " +
            "ON CONFLICT (node) DO UPDATE SET fenced = TRUE, touched_at = excluded.touched_at", toNode, now))
        {
            await fence.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var committed = new List<long>(sequences.Length);
        await using (var forget = Command(connection, "WITH forgotten AS (DELETE FROM forward_receipts WHERE from_node = @p0 AND to_node = @p1 " +
            "RETURNING sequence) SELECT sequence FROM forgotten WHERE sequence = ANY(@p2)", fromNode, toNode, sequences))
        {
            await using var reader = await forget.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                committed.Add(reader.GetInt64(0));
            }
        }

        // Housekeeping: nodes that received no forward and were fenced by no one for a day, and receipts of nodes with no fence row.
        await using (var prune = Command(connection, "DELETE FROM forward_fences WHERE touched_at < @p0; " +
            "DELETE FROM forward_receipts WHERE NOT EXISTS (SELECT 1 FROM forward_fences WHERE forward_fences.node = forward_receipts.to_node)",
            now - (long)ForwardFenceLifetime.TotalMilliseconds))
        {
            await prune.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return [.. committed];
    }

    /// <summary>
    /// A connection of its own to the store's database, opened (from the driver's pool), for statements beside the writer's commits:
    /// the writer's connection is busy on another thread, and an EF context would cost more than the statement.
    /// </summary>
    private async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var factory = _factory ?? DbProviderFactories.GetFactory(_context.Database.GetDbConnection())
            ?? throw new InvalidOperationException("The database driver has no provider factory.");
        var connection = factory.CreateConnection() ?? throw new InvalidOperationException("The database driver made no connection.");
        try
        {
            connection.ConnectionString = _context.Database.GetConnectionString();
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A command of <paramref name="sql"/> on <paramref name="connection"/>, its parameters @p0, @p1, ... given in order: text (null: NULL
    /// text), or values whose database type the driver infers (a <see cref="long"/>, a <see cref="long"/> array).
    /// </summary>
    private static DbCommand Command(DbConnection connection, string sql, params object?[] values)
    {
        var command = connection.CreateCommand();
#pragma warning disable CA2100 // Constant SQL; the values travel as parameters.
        command.CommandText = sql;
#pragma warning restore CA2100
        for (var i = 0; i < values.Length; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (values[i] is null or string)
            {
                parameter.DbType = DbType.String;
            }

            parameter.Value = values[i] ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    /// <summary>
    /// Reads sessions with their subscriptions, queues, in-flight state and incoming QoS 2 ids into <paramref name="into"/>: those of
    /// <paramref name="clientId"/> when given, else those <paramref name="owner"/> owns when given, else all.
    /// </summary>
    private static async Task ReadSessionsAsync(BrokerDbContext context, string? owner, string? clientId, List<StoredSession> into,
        CancellationToken cancellationToken)
    {
        var sessions = new Dictionary<string, StoredSession>(StringComparer.Ordinal);
        await foreach (var row in Rows(Of(context.Sessions, context, owner, clientId), cancellationToken).ConfigureAwait(false))
        {
            var session = new StoredSession(row.ClientId, (uint)row.ExpiryInterval, ToTime(row.DisconnectedAt));
            sessions.Add(row.ClientId, session);
            into.Add(session);
        }

        await foreach (var row in Rows(Of(context.Subscriptions, context, owner, clientId), cancellationToken).ConfigureAwait(false))
        {
            var options = new SubscriptionOptions((QualityOfService)row.QualityOfService, row.NoLocal, row.RetainAsPublished, (RetainHandling)row.RetainHandling);
            sessions[row.ClientId].Subscriptions.Add(new StoredSubscription(row.TopicFilter, options, (uint)row.SubscriptionId));
        }

        await foreach (var row in Rows(Of(context.QueuedMessages, context, owner, clientId).OrderBy(x => x.Sequence), cancellationToken).ConfigureAwait(false))
        {
            sessions[row.ClientId].Queued.Add(new StoredDelivery(row.Sequence, ToMessage(row, row.ExpiresAt), (QualityOfService)row.QualityOfService, row.Retain));
        }

        await foreach (var row in Rows(Of(context.OutgoingInflight, context, owner, clientId).OrderBy(x => x.Sequence), cancellationToken).ConfigureAwait(false))
        {
            sessions[row.ClientId].Outgoing.Add(new StoredInflight((ushort)row.PacketId, row.Sequence, ToMessage(row, row.ExpiresAt),
                (QualityOfService)row.QualityOfService, row.Retain, row.Released));
        }

        await foreach (var row in Rows(Of(context.IncomingQos2, context, owner, clientId).OrderBy(x => x.PacketId), cancellationToken).ConfigureAwait(false))
        {
            sessions[row.ClientId].IncomingQos2.Add((ushort)row.PacketId);
        }
    }

    /// <summary>The rows of one client id's session, else of the sessions <paramref name="owner"/> owns, else all.</summary>
    private static IQueryable<T> Of<T>(IQueryable<T> rows, BrokerDbContext context, string? owner, string? clientId)
        where T : class, ISessionRow =>
        clientId is not null ? rows.Where(x => x.ClientId == clientId)
        : owner is not null ? rows.Where(x => context.Sessions.Any(s => s.ClientId == x.ClientId && s.OwnerNode == owner))
        : rows;

    public async Task CommitAsync(ReadOnlyMemory<StorageOperation> batch, CancellationToken cancellationToken = default)
    {
        try
        {
            // Opened here, so that a connection whose setup failed is closed below and set up again next time.
            var connection = await EnsureOpenAsync(cancellationToken).ConfigureAwait(false);
            _statements.Clear();
            foreach (ref readonly var operation in batch.Span)
            {
                Describe(operation);
            }

            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The connection may be gone or unusable (server restarted, disk full): start the next batch on a new one.
            await ForgetCommandsAsync().ConfigureAwait(false);
            await _context.Database.CloseConnectionAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            _statements.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ForgetCommandsAsync().ConfigureAwait(false);
        await _context.DisposeAsync().ConfigureAwait(false);
    }

    private async Task ForgetCommandsAsync()
    {
        foreach (var command in _commands.Values)
        {
            await command.DisposeAsync().ConfigureAwait(false);
        }

        _commands.Clear();
    }

    private async Task<DbConnection> EnsureOpenAsync(CancellationToken cancellationToken)
    {
        var connection = _context.Database.GetDbConnection();
        if (connection.State != ConnectionState.Open)
        {
            await _context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var setup = connection.CreateCommand();
#pragma warning disable CA2100 // Fixed text chosen by the provider's factory, no input in it.
            setup.CommandText = _connectionSetup;
#pragma warning restore CA2100
            await setup.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            _factory = DbProviderFactories.GetFactory(connection) ?? throw new InvalidOperationException("The database driver has no provider factory.");
        }

        return connection;
    }

    private async Task ExecuteAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        if (connection.CanCreateBatch)
        {
            await using var dbBatch = connection.CreateBatch();
            dbBatch.Transaction = transaction;
            foreach (var statement in _statements)
            {
                var command = dbBatch.CreateBatchCommand();
                command.CommandText = statement.Sql;
                command.Parameters.AddRange(statement.Parameters);
                dbBatch.BatchCommands.Add(command);
            }

            await dbBatch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < _statements.Count; i++)
            {
                _statements[i].Check(dbBatch.BatchCommands[i].RecordsAffected);
            }

            return;
        }

        foreach (var statement in _statements)
        {
            if (!_commands.TryGetValue(statement.Sql, out var command))
            {
                command = connection.CreateCommand();
#pragma warning disable CA2100 // Constant SQL; values travel as parameters.
                command.CommandText = statement.Sql;
#pragma warning restore CA2100
                _commands.Add(statement.Sql, command);
            }

            command.Transaction = transaction;
            command.Parameters.Clear();
            command.Parameters.AddRange(statement.Parameters);
            statement.Check(await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false));
        }
    }

    /// <summary>The statements of one operation. Parameter @p0 is always the client id (or the retained topic).</summary>
    private void Describe(in StorageOperation operation)
    {
        var clientId = Text(operation.ClientId);
        switch (operation.Kind)
        {
            case StorageOperationKind.SetRetained:
                var retained = operation.Message!;
                Add("INSERT INTO retained_messages (topic, qos, retain, properties, payload, expires_at, stored_at, publisher_client_id, publisher_user_name) " +
                    "VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8) " +
                    "ON CONFLICT (topic) DO UPDATE SET qos = excluded.qos, retain = excluded.retain, properties = excluded.properties, payload = excluded.payload, " +
                    "expires_at = excluded.expires_at, stored_at = excluded.stored_at, publisher_client_id = excluded.publisher_client_id, " +
                    "publisher_user_name = excluded.publisher_user_name",
                    Text(retained.Topic), Small((short)retained.QualityOfService), Flag(retained.Retain), Bytes(retained.Properties), Bytes(retained.Payload),
                    Time(retained.ExpiresAtUtc), Time(retained.StoredAt), Text(retained.PublisherId), Text(retained.PublisherUserName));
                break;
            case StorageOperationKind.DeleteRetained:
                Add("DELETE FROM retained_messages WHERE topic = @p0", Text(operation.Topic!));
                break;
            case StorageOperationKind.UpsertSession:
                if (_owner is not null)
                {
                    Add(UpsertOwnedSession, clientId, Number(operation.Number), Time(operation.Time), Text(_owner));
                    break;
                }

                Add("INSERT INTO sessions (client_id, expiry_interval, disconnected_at) VALUES (@p0, @p1, @p2) " +
                    "ON CONFLICT (client_id) DO UPDATE SET expiry_interval = excluded.expiry_interval, disconnected_at = excluded.disconnected_at",
                    clientId, Number(operation.Number), Time(operation.Time));
                break;
            case StorageOperationKind.DeleteSession:
                AddToSession("DELETE FROM subscriptions WHERE client_id = @p0", clientId);
                AddToSession("DELETE FROM queued_messages WHERE client_id = @p0", Text(operation.ClientId));
                AddToSession("DELETE FROM outgoing_inflight WHERE client_id = @p0", Text(operation.ClientId));
                AddToSession("DELETE FROM incoming_qos2 WHERE client_id = @p0", Text(operation.ClientId));
                AddToSession("DELETE FROM sessions WHERE client_id = @p0", Text(operation.ClientId));
                break;
            case StorageOperationKind.AddSubscription:
                var options = operation.Options;
                AddToSession("INSERT INTO subscriptions (client_id, topic_filter, qos, no_local, retain_as_published, retain_handling, subscription_id) " +
                    "SELECT @p0, @p1, @p2, @p3, @p4, @p5, @p6" + IfSessionExists +
                    " ON CONFLICT (client_id, topic_filter) DO UPDATE SET qos = excluded.qos, no_local = excluded.no_local, " +
                    "retain_as_published = excluded.retain_as_published, retain_handling = excluded.retain_handling, subscription_id = excluded.subscription_id",
                    clientId, Text(operation.Topic!), Small((short)options.QualityOfService), Flag(options.NoLocal), Flag(options.RetainAsPublished),
                    Small((short)options.RetainHandling), Number(operation.Number));
                break;
            case StorageOperationKind.RemoveSubscription:
                AddToSession("DELETE FROM subscriptions WHERE client_id = @p0 AND topic_filter = @p1", clientId, Text(operation.Topic!));
                break;
            case StorageOperationKind.EnqueueMessage:
                var queued = operation.Message!;
                AddToSession("INSERT INTO queued_messages (client_id, sequence, qos, retain, expires_at, " + MessageColumns + ") " +
                    "SELECT @p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9" + IfSessionExists +
                    " ON CONFLICT (client_id, sequence) DO UPDATE SET qos = excluded.qos, retain = excluded.retain, expires_at = excluded.expires_at, " +
                    UpdateMessageColumns,
                    clientId, Number(operation.Sequence), Small((short)operation.QualityOfService), Flag(operation.Retain), Time(queued.ExpiresAtUtc),
                    Text(queued.Topic), Small((short)queued.QualityOfService), Flag(queued.Retain), Bytes(queued.Properties), Bytes(queued.Payload));
                break;
            case StorageOperationKind.RemoveQueuedMessage:
                AddToSession("DELETE FROM queued_messages WHERE client_id = @p0 AND sequence = @p1", clientId, Number(operation.Sequence));
                break;
            case StorageOperationKind.SetOutgoingInflight:
                var inflight = operation.Message!;
                AddToSession("INSERT INTO outgoing_inflight (client_id, packet_id, sequence, qos, retain, released, expires_at, " + MessageColumns + ") " +
                    "SELECT @p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11" + IfSessionExists +
                    " ON CONFLICT (client_id, packet_id) DO UPDATE SET sequence = excluded.sequence, qos = excluded.qos, retain = excluded.retain, " +
                    "released = excluded.released, expires_at = excluded.expires_at, " + UpdateMessageColumns,
                    clientId, PacketId(operation.PacketId), Number(operation.Sequence), Small((short)operation.QualityOfService), Flag(operation.Retain),
                    Flag(operation.Released), Time(inflight.ExpiresAtUtc), Text(inflight.Topic), Small((short)inflight.QualityOfService), Flag(inflight.Retain),
                    Bytes(inflight.Properties), Bytes(inflight.Payload));
                break;
            case StorageOperationKind.RemoveOutgoingInflight:
                AddToSession("DELETE FROM outgoing_inflight WHERE client_id = @p0 AND packet_id = @p1", clientId, PacketId(operation.PacketId));
                break;
            case StorageOperationKind.AddIncomingQos2:
                AddToSession("INSERT INTO incoming_qos2 (client_id, packet_id) SELECT @p0, @p1" + IfSessionExists + " ON CONFLICT (client_id, packet_id) DO NOTHING",
                    clientId, PacketId(operation.PacketId));
                break;
            case StorageOperationKind.RemoveIncomingQos2:
                AddToSession("DELETE FROM incoming_qos2 WHERE client_id = @p0 AND packet_id = @p1", clientId, PacketId(operation.PacketId));
                break;
            case StorageOperationKind.SetWill:
                var will = operation.Message!;
                Add("INSERT INTO pending_wills (client_id, delay_interval, due_at, expiry_interval, " + MessageColumns + ") " +
                    "VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8) ON CONFLICT (client_id) DO UPDATE SET delay_interval = excluded.delay_interval, " +
                    "due_at = excluded.due_at, expiry_interval = excluded.expiry_interval, " + UpdateMessageColumns,
                    clientId, Number(operation.Number), Time(operation.Time), Parameter((long?)operation.WillExpiryInterval, DbType.Int64), Text(will.Topic),
                    Small((short)will.QualityOfService), Flag(will.Retain), Bytes(will.Properties), Bytes(will.Payload));
                break;
            case StorageOperationKind.DeleteWill:
                Add("DELETE FROM pending_wills WHERE client_id = @p0", clientId);
                break;
            case StorageOperationKind.SetConnectionWill when _owner is not null:
                // A later connection of the client id (a larger claim, on any node) replaces the row; an earlier one never does.
                var connected = operation.Message!;
                Add("INSERT INTO connection_wills (client_id, owner_node, connection, delay_interval, expiry_interval, " + MessageColumns + ") " +
                    "VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9) ON CONFLICT (client_id) DO UPDATE SET owner_node = excluded.owner_node, " +
                    "connection = excluded.connection, delay_interval = excluded.delay_interval, expiry_interval = excluded.expiry_interval, " +
                    UpdateMessageColumns + " WHERE connection_wills.connection < excluded.connection",
                    clientId, Text(_owner), Number(operation.Connection), Number(operation.Number), Parameter((long?)operation.WillExpiryInterval, DbType.Int64),
                    Text(connected.Topic), Small((short)connected.QualityOfService), Flag(connected.Retain), Bytes(connected.Properties), Bytes(connected.Payload));
                break;
            case StorageOperationKind.DeleteConnectionWill when _owner is not null:
                Add("DELETE FROM connection_wills WHERE client_id = @p0 AND connection = @p1", clientId, Number(operation.Connection));
                break;
            case StorageOperationKind.ForwardReceipt when _owner is not null:
                var toNode = operation.Topic!;
                Add(TouchForwardFence, Text(toNode), Time(DateTimeOffset.UtcNow));
                _statements[^1] = _statements[^1] with { FencedUnlessChanged = toNode }; // the upsert just added
                Add("INSERT INTO forward_receipts (from_node, to_node, sequence) VALUES (@p0, @p1, @p2) ON CONFLICT DO NOTHING",
                    clientId, Text(toNode), Number(operation.Sequence));
                Add("DELETE FROM forward_receipts WHERE from_node = @p0 AND to_node = @p1 AND sequence < @p2",
                    Text(operation.ClientId), Text(toNode), Number(operation.Connection));
                break;
            case StorageOperationKind.SetConnectionWill or StorageOperationKind.DeleteConnectionWill or StorageOperationKind.ForwardReceipt:
                // Not acting for a cluster node: no one would publish the wills or read the receipts.
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(operation), operation.Kind, "Unknown storage operation.");
        }
    }

    private static StoredWill ToWill(PendingWillEntity row) =>
        new(row.ClientId, ToMessage(row, expiresAt: null), (uint)row.DelayInterval, DateTimeOffset.FromUnixTimeMilliseconds(row.DueAt), (uint?)row.ExpiryInterval);

    private static MqttMessage ToMessage(MessageRow row, long? expiresAt) =>
        MqttMessage.Restore(row.Topic, row.Payload, (QualityOfService)row.MessageQualityOfService, row.MessageRetain, row.Properties, ToTime(expiresAt));

    /// <summary>The rows of <paramref name="query"/> one at a time, untracked.</summary>
    private static ConfiguredCancelableAsyncEnumerable<T> Rows<T>(IQueryable<T> query, CancellationToken cancellationToken)
        where T : class =>
        query.AsNoTracking().AsAsyncEnumerable().WithCancellation(cancellationToken);

    private static DateTimeOffset? ToTime(long? unixMilliseconds) =>
        unixMilliseconds is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    private void Add(string sql, params DbParameter[] parameters)
    {
        for (var i = 0; i < parameters.Length; i++)
        {
            parameters[i].ParameterName = "@p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        _statements.Add(new Statement(sql, parameters));
    }

    /// <summary>
    /// <see cref="Add"/> for a statement on a session's rows: acting for a node, it changes them only while that node owns the session
    /// (fencing), through an owner check made once per statement text.
    /// </summary>
    private void AddToSession(string sql, params DbParameter[] parameters)
    {
        if (_owner is null)
        {
            Add(sql, parameters);
            return;
        }

        if (!_ownedStatements.TryGetValue(sql, out var owned))
        {
            owned = sql.Contains(IfSessionExists, StringComparison.Ordinal)
                ? sql.Replace(IfSessionExists, IfSessionOwned, StringComparison.Ordinal)
                : sql + AndSessionOwned;
            _ownedStatements.Add(sql, owned);
        }

        var owner = Text(_owner);
        Add(owned, [.. parameters, owner]);
        owner.ParameterName = "@owner";
    }

    private DbParameter Parameter(object? value, DbType type)
    {
        var parameter = _factory!.CreateParameter() ?? throw new InvalidOperationException("The database driver cannot create parameters.");
        parameter.DbType = type;
        parameter.Value = value ?? DBNull.Value;
        return parameter;
    }

    private DbParameter Text(string? value) => Parameter(value, DbType.String);

    private DbParameter Small(short value) => Parameter(value, DbType.Int16);

    private DbParameter Number(long value) => Parameter(value, DbType.Int64);

    private DbParameter PacketId(ushort value) => Parameter((int)value, DbType.Int32);

    private DbParameter Flag(bool value) => Parameter(value, DbType.Boolean);

    private DbParameter Bytes(ReadOnlyMemory<byte> value) => Parameter(value.ToArray(), DbType.Binary);

    private DbParameter Time(DateTimeOffset? value) => Parameter(value?.ToUnixTimeMilliseconds(), DbType.Int64);

    /// <param name="FencedUnlessChanged">When given, the statement must change a row: changing none means this node is fenced.</param>
    private sealed record Statement(string Sql, DbParameter[] Parameters, string? FencedUnlessChanged = null)
    {
        /// <summary>Fails the batch when the statement changed no row but had to (<see cref="FencedUnlessChanged"/>).</summary>
        public void Check(int rowsChanged)
        {
            if (FencedUnlessChanged is { } node && rowsChanged == 0)
            {
                throw new ForwardFencedException(node);
            }
        }
    }
}
