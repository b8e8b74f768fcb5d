using IoTHub.Testing;

namespace IoTHub.Cluster.Tests;

/// <summary>The tests that share one PostgreSQL server (xUnit wants the definition in the tests' own assembly).</summary>
[CollectionDefinition(Name)]
public sealed class PostgresServerGroup : ICollectionFixture<PostgresServer>
{
    public const string Name = "PostgreSQL server";
}
