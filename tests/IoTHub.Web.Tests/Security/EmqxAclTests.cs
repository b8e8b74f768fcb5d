using System.Text.Json;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Security.Backends;
using IoTHub.Web.Security;

namespace IoTHub.Web.Tests.Security;

/// <summary>
/// Issue 18: EMQX's list form of access rules, as a webhook's <c>acl</c> or a token's <c>acl</c> claim carries them, read
/// into the client's own rules: each field and placeholder, <c>eq</c>, and every form the broker cannot read in full
/// refused with a message that names the rule.
/// </summary>
public sealed class EmqxAclTests
{
    [Fact]
    public void The_list_form_is_read_with_its_placeholders()
    {
        var rules = Read("""
            [{"permission":"allow","action":"publish","topic":"devices/${clientid}/#"},
             {"permission":"deny","action":"sub","topics":["users/${username}/secret","certs/${cert_common_name}"]},
             {"permission":"allow","action":"all","topic":"eq broadcast/+/${clientid}"},
             {"permission":"allow","action":"pub","topic":"plain/topic"},
             {"permission":"allow","action":"subscribe","topic":"news/#"}]
            """);

        Assert.Equal(
        [
            new AclRule(true, AclAction.Publish, "devices/%c/#", AclScope.User, "device-1", Pattern: true, Source: "acl[0]"),
            new AclRule(false, AclAction.Subscribe, "users/%u/secret", AclScope.User, "device-1", Pattern: true, Source: "acl[1]"),
            new AclRule(false, AclAction.Subscribe, "certs/${cert_cn}", AclScope.User, "device-1", Pattern: true, Source: "acl[1]"),
            new AclRule(true, AclAction.Both, "broadcast/+/${clientid}", AclScope.User, "device-1", Source: "acl[2]", Exact: true),
            new AclRule(true, AclAction.Publish, "plain/topic", AclScope.User, "device-1", Source: "acl[3]"),
            new AclRule(true, AclAction.Subscribe, "news/#", AclScope.User, "device-1", Source: "acl[4]"),
        ], rules);
    }

    [Theory]
    [InlineData("""["allow"]""", "acl[0] is not an access rule of EMQX's form: it is not an object")]
    [InlineData("""[{"permission":"maybe","action":"publish","topic":"t"}]""", "it has a permission other than allow or deny")]
    [InlineData("""[{"permission":"allow","action":"read","topic":"t"}]""", "it has an action other than publish, subscribe or all")]
    [InlineData("""[{"permission":"allow","action":"publish","topic":7}]""", "it has a topic that is not a string")]
    [InlineData("""[{"permission":"allow","action":"publish","topics":"t"}]""", "it has topics that are not a list")]
    [InlineData("""[{"permission":"allow","action":"publish","topics":["t",1]}]""", "it has a topics entry that is not a string")]
    [InlineData("""[{"permission":"allow","action":"publish","topic":"t","retain":true}]""", "it has the field 'retain'")]
    [InlineData("""[{"permission":"allow","topic":"t"}]""", "it lacks permission, action or topic")]
    [InlineData("""[{"permission":"allow","action":"publish","topic":"t/${peerhost}"}]""", "with a placeholder other than ${username}, ${clientid} and ${cert_common_name}")]
    [InlineData("""[{"permission":"allow","action":"publish","topic":"t/#/x"}]""", "it has the topic 't/#/x', which is not a valid topic filter")]
    [InlineData("""[{"permission":"allow","action":"subscribe","topic":"$share/g/t"}]""", "which is not a valid topic filter")]
    public void A_rule_that_cannot_be_read_in_full_is_refused(string acl, string problem)
    {
        var refused = Assert.Throws<AuthenticationBackendException>(() => Read(acl));
        Assert.Contains(problem, refused.Message, StringComparison.Ordinal);
        Assert.StartsWith("acl[0] is not an access rule of EMQX's form: it ", refused.Message, StringComparison.Ordinal);
    }

    private static IReadOnlyList<AclRule> Read(string json) => EmqxAcl.Read(JsonDocument.Parse(json).RootElement.EnumerateArray(), "device-1", "acl");
}
