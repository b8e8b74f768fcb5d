using IoTHub.Broker.Storage;
using IoTHub.Data.Stores;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace IoTHub.Data.Tests;

/// <summary>A database made by an older version is upgraded by the migrations it lacks, never dropped.</summary>
public sealed class MigrationUpgradeTests : IDisposable
{
    private readonly TempDirectory _folder = new();

    private string DatabasePath => Path.Combine(_folder.Path, SqliteStorage.DefaultFileName);

    [Fact]
    public async Task A_database_of_the_first_migration_is_upgraded_with_its_data()
    {
        string first;
        await using (var context = new BrokerDbContext(SqliteStorage.CreateOptions(DatabasePath)))
        {
            var migrations = context.Database.GetMigrations().ToList();
            Assert.True(migrations.Count > 1, "there is only one migration to upgrade from");
            first = migrations[0];
            await context.GetService<IMigrator>().MigrateAsync(first);
        }

        // Data as the first version wrote it, in that version's schema.
        await using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO retained_messages (topic, qos, retain, properties, payload) VALUES ('old/topic', 1, 1, x'', x'6B657074');" +
                "INSERT INTO sessions (client_id, expiry_interval, disconnected_at) VALUES ('old-client', 3600, NULL);" +
                "INSERT INTO queued_messages (client_id, sequence, qos, retain, topic, message_qos, message_retain, properties, payload) " +
                "VALUES ('old-client', 1, 1, 0, 'old/queued', 1, 0, x'', x'71');" +
                "INSERT INTO pending_wills (client_id, delay_interval, due_at, topic, message_qos, message_retain, properties, payload) " +
                "VALUES ('old-client', 30, 0, 'old/will', 1, 0, x'', x'77');";
            await command.ExecuteNonQueryAsync();
        }

        await using var store = await SqliteStorage.OpenAsync(DatabasePath, StorageDurability.Strict);
        var state = await store.LoadAsync();

        var retained = Assert.Single(state.Retained);
        Assert.Equal("old/topic", retained.Topic);
        Assert.Equal("kept"u8.ToArray(), retained.Payload.ToArray());
        // Written before messages kept their expiry (migration MessageExpiry): they never expire, as then.
        Assert.Null(retained.ExpiresAtUtc);
        var session = Assert.Single(state.Sessions);
        Assert.Equal("old-client", session.ClientId);
        Assert.Null(Assert.Single(session.Queued).Message.ExpiresAtUtc);
        Assert.Null(Assert.Single(state.Wills).ExpiryInterval);
        await using var check = new BrokerDbContext(SqliteStorage.CreateOptions(DatabasePath));
        Assert.Empty(await check.Database.GetPendingMigrationsAsync());
        Assert.Contains(first, await check.Database.GetAppliedMigrationsAsync());
    }

    [Fact]
    public async Task Audit_entries_written_before_they_had_a_source_are_given_the_one_their_text_shows()
    {
        await using (var context = new BrokerDbContext(SqliteStorage.CreateOptions(DatabasePath)))
        {
            var migrations = context.Database.GetMigrations().ToList();
            var before = migrations[migrations.FindIndex(static m => m.EndsWith("_AuditSource", StringComparison.Ordinal)) - 1];
            await context.GetService<IMigrator>().MigrateAsync(before);
        }

        // As the version before wrote them: the dashboard's changes in words, its failed logins as POST /login.
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "INSERT INTO audit_log (at, actor, action, status, remote_address) VALUES " +
                "(1, 'admin', 'DELETE /api/v1/sessions/s1', 204, '::1'), (2, 'apikey:backup', 'POST /api/v1/publish', 200, '::1'), " +
                "(3, 'admin', 'dashboard: delete session ''s1'' of broker ''default''', 404, '::1'), (4, 'mallory', 'POST /login', 401, '::1'), " +
                "(5, 'mallory', 'POST /api/v1/auth/login', 401, '::1');";
            await command.ExecuteNonQueryAsync();
        }

        await (await SqliteStorage.OpenAsync(DatabasePath, StorageDurability.Strict)).DisposeAsync();

        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT source FROM audit_log ORDER BY at";
        var sources = new List<string>();
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                sources.Add(reader.GetString(0));
            }
        }

        Assert.Equal(["api", "api-key", "dashboard", "dashboard", "api"], sources);
    }

    public void Dispose() => _folder.Dispose();
}
