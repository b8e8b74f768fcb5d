using System.Data.Common;

namespace IoTHub.Testing;

/// <summary>What the test database servers (<see cref="PostgresServer"/>, <see cref="MariaDbServer"/>) share.</summary>
internal static class TestDatabases
{
    /// <summary>Creates a new, empty database with a generated name through <paramref name="server"/> (not yet open), and returns the name.</summary>
    public static async Task<string> CreateAsync(DbConnection server)
    {
        var name = "test_" + Guid.NewGuid().ToString("N");
        await using (server)
        {
            await server.OpenAsync();
            await using var create = server.CreateCommand();
#pragma warning disable CA2100 // A generated name, not input.
            create.CommandText = $"CREATE DATABASE {name}";
#pragma warning restore CA2100
            await create.ExecuteNonQueryAsync();
        }

        return name;
    }
}
