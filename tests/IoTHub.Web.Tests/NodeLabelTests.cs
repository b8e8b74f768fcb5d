using IoTHub.Web.Metrics;

namespace IoTHub.Web.Tests;

/// <summary>The node label written into each sample of a scrape (the end-to-end check is in ClusterTests.Operations).</summary>
public sealed class NodeLabelTests
{
    private readonly NodeLabel _label = new("10.0.0.11:11111");

    [Fact]
    public void Every_sample_gets_the_label_and_comments_stay_as_they_were()
    {
        const string Scrape = """
            # HELP iothub_sessions Sessions, connected or not.
            # TYPE iothub_sessions gauge
            iothub_sessions{otel_scope_name="IoTHub.Broker",broker="default"} 3 1700000000000
            process_runtime_dotnet_gc_collections_count 7
            up{} 1

            # EOF

            """;

        Assert.Equal("""
            # HELP iothub_sessions Sessions, connected or not.
            # TYPE iothub_sessions gauge
            iothub_sessions{node="10.0.0.11:11111",otel_scope_name="IoTHub.Broker",broker="default"} 3 1700000000000
            process_runtime_dotnet_gc_collections_count{node="10.0.0.11:11111"} 7
            up{node="10.0.0.11:11111"} 1

            # EOF

            """, _label.AddTo(Scrape));
    }

    [Fact]
    public void A_label_value_with_braces_or_spaces_is_left_alone_and_quotes_in_the_name_are_escaped()
    {
        Assert.Equal("""a{node="10.0.0.11:11111",path="/x {y} z"} 1""", _label.AddTo("""a{path="/x {y} z"} 1"""));
        Assert.Equal("""a{node="n\"1\\"} 1""", new NodeLabel("n\"1\\").AddTo("a 1"));
    }
}
