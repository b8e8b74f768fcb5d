using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Tests.Support;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests.Security.Authorization;

/// <summary>Mosquitto acl_files (issue 17): each line form, bad lines reported by number while the rest loads, reload on change.</summary>
public sealed class AclFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("iothub-acl-").FullName;
    private readonly CapturingLogger<AclFile> _log = new();

    [Fact]
    public void Each_line_form_reads_as_Mosquitto_means_it()
    {
        const string Text = """
            # anonymous clients
            topic read public/#
              topic   deny public/secret

            user alice
            topic readwrite alice/#
            topic write sensors/a b
            topic sensors/both
            pattern read devices/%u/commands
            user
            bogus line
            topic read a/#/b
            topic
            """;
        var rules = AclFile.Parse(Text, "acl", out var problems);

        Assert.Equal(
        [
            new AclRule(true, AclAction.Subscribe, "public/#", AclScope.Anonymous, null, false, "acl:2"),
            new AclRule(false, AclAction.Both, "public/secret", AclScope.Anonymous, null, false, "acl:3"),
            new AclRule(true, AclAction.Both, "alice/#", AclScope.User, "alice", false, "acl:6"),
            new AclRule(true, AclAction.Publish, "sensors/a b", AclScope.User, "alice", false, "acl:7"),
            new AclRule(true, AclAction.Both, "sensors/both", AclScope.User, "alice", false, "acl:8"),
            new AclRule(true, AclAction.Subscribe, "devices/%u/commands", AclScope.Everyone, null, true, "acl:9"),
        ], rules);
        Assert.Equal([10, 11, 12, 13], problems.Select(static p => p.Line));
    }

    [Fact]
    public async Task A_changed_file_is_read_again_and_a_bad_line_is_logged_with_its_number()
    {
        var path = Path.Combine(_folder, "acl");
        await File.WriteAllTextAsync(path, "topic read a/#\n");
        using var file = AclFile.Open(path, _log);
        Assert.Single(file.Rules);

        // An in-place write is a truncation and then the bytes: under load a check may read the empty file first and
        // load that (as it should: the file said so then); the new content follows with the write's own events.
        await File.WriteAllTextAsync(path, "topic read a/#\nnonsense\ntopic write b\n");
        await Poll.UntilAsync(() => file.Rules.Count == 2, MqttTestClient.Timeout);
        Assert.Contains(_log.Lines, static m => m.Contains("line 2 is skipped", StringComparison.Ordinal));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
