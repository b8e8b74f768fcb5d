using System.Text;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.PasswordFile;
using IoTHub.Broker.Security.Users;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests.Security;

/// <summary>
/// The Database authenticator (issue 15) over the memory store, in a chain: known users with the right password are
/// allowed and the decision names the method; wrong or missing passwords and disabled users are denied (0x86); a client
/// id outside the user's pattern is refused with 0x87; unknown users fall through.
/// </summary>
public sealed class DatabaseAuthenticatorTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UnixEpoch;

    [Fact]
    public async Task Each_kind_of_user_gets_its_answer()
    {
        var store = new MemoryMqttUserStore();
        await store.AddAsync(User("alice", "alice-password", enabled: true, pattern: "%u-?"), default);
        await store.AddAsync(User("bob", "bob-password", enabled: false, pattern: null), default);
        using var chain = new AuthenticationChain([new DatabaseAuthenticator(store)], allowAnonymous: false, TimeSpan.FromMinutes(1));

        var allowed = await chain.AuthenticateAsync(Request("alice", "alice-password", "alice-1"), default);
        Assert.True(allowed.Accepted);
        Assert.Equal(DatabaseAuthenticator.MethodName, allowed.Method);
        Assert.Equal(ReasonCode.NotAuthorized, (await chain.AuthenticateAsync(Request("alice", "alice-password", "alice-12"), default)).ReasonCode);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await chain.AuthenticateAsync(Request("alice", "wrong-password", "alice-1"), default)).ReasonCode);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await chain.AuthenticateAsync(Request("alice", null, "alice-1"), default)).ReasonCode);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await chain.AuthenticateAsync(Request("bob", "bob-password", "c"), default)).ReasonCode);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await chain.AuthenticateAsync(Request("carol", "x", "c"), default)).ReasonCode);
        Assert.Contains(("database", "allow", 1L), chain.Decisions());
        Assert.Contains(("database", "deny", 4L), chain.Decisions());
        Assert.Contains(("anonymous", "deny", 1L), chain.Decisions());
    }

    [Fact]
    public async Task A_user_created_after_a_cached_refusal_is_let_in_once_the_chain_forgets_the_name()
    {
        var store = new MemoryMqttUserStore();
        using var chain = new AuthenticationChain([new DatabaseAuthenticator(store)], allowAnonymous: false, TimeSpan.FromMinutes(1));
        Assert.False((await chain.AuthenticateAsync(Request("dave", "dave-password", "d"), default)).Accepted);

        await store.AddAsync(User("dave", "dave-password", enabled: true, pattern: null), default);
        Assert.False((await chain.AuthenticateAsync(Request("dave", "dave-password", "d"), default)).Accepted); // the cached refusal
        chain.Forget("dave");

        Assert.True((await chain.AuthenticateAsync(Request("dave", "dave-password", "d"), default)).Accepted);
    }

    [Theory]
    [InlineData("%u-*", "alice", "alice-", true)]
    [InlineData("%u-*", "alice", "alice-kitchen", true)]
    [InlineData("%u-*", "alice", "bob-kitchen", false)]
    [InlineData("%u-*", "alice", "Alice-1", false)]
    [InlineData("%u", "a*b", "a*b", true)]
    [InlineData("%u", "a*b", "axxb", false)]
    [InlineData("sensor-????", "u", "sensor-0042", true)]
    [InlineData("sensor-????", "u", "sensor-042", false)]
    [InlineData("*-*-end", "u", "a-b-c-end", true)]
    [InlineData("*-*-end", "u", "a-end", false)]
    [InlineData("100%", "u", "100%", true)]
    [InlineData("*", "u", "", true)]
    [InlineData("exact", "u", "exact", true)]
    [InlineData("exact", "u", "exactly", false)]
    public void Client_id_patterns_match_as_documented(string pattern, string userName, string clientId, bool matches)
    {
        Assert.Equal(matches, ClientIdPattern.Matches(pattern, userName, clientId));
    }

    [Fact]
    public void A_new_hash_is_a_self_describing_mosquitto_hash_that_parses_back()
    {
        var hash = PasswordHash.Create("pw", iterations: 1000);

        Assert.Matches(@"^\$7\$1000\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{86}==$", hash.Encoded);
        var parsed = PasswordHash.Parse(hash.Encoded, out _)!;
        Assert.Equal(1000, parsed.Iterations);
        Assert.True(parsed.Matches("pw"u8));
        Assert.False(parsed.Matches("px"u8));
        Assert.NotEqual(hash.Encoded, PasswordHash.Create("pw", iterations: 1000).Encoded); // a new salt each time
    }

    private static MqttUser User(string name, string password, bool enabled, string? pattern) =>
        new(name, PasswordHash.Create(password, iterations: 1000).Encoded, enabled, pattern, Now, Now);

    private static ConnectRequest Request(string? userName, string? password, string clientId) =>
        new(clientId, userName, password is null ? null : Encoding.UTF8.GetBytes(password), MqttProtocolVersion.V500, PipeClient.Connection);
}
